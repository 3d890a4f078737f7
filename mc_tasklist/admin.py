from django.contrib import admin

from mc_tasklist import services
from mc_tasklist.forms import TaskForm
from mc_tasklist.models import Task


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    """Edits made here go through the same services as the views', so they invalidate the list too."""

    form = TaskForm
    list_display = ["id", "name", "created_at"]
    search_fields = ["name"]

    def render_change_form(self, request, context, *args, **kwargs):
        response = super().render_change_form(request, context, *args, **kwargs)
        if request.method == "POST" and context["adminform"].form.errors:
            # Refused input is the client's error, here as on the public form: a 400, not a 200.
            response.status_code = 400
        return response

    def save_model(self, request, obj, form, change):
        if change:
            services.task_update(task=obj, name=obj.name)
        else:
            obj.pk = services.task_create(name=obj.name).pk
            obj.refresh_from_db()  # the admin's redirect and log entry use the saved task

    def delete_model(self, request, obj):
        services.task_delete(task_id=obj.pk)

    def delete_queryset(self, request, queryset):
        services.task_delete_many(task_ids=list(queryset.values_list("id", flat=True)))
