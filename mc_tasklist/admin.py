from functools import partial

from django.contrib import admin
from django.db import transaction

from mc_tasklist import caching
from mc_tasklist.models import Task


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    """Edits made here change the list too, so they invalidate it like the views' writes."""

    list_display = ["id", "name", "created_at"]
    search_fields = ["name"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        transaction.on_commit(caching.task_list_changed)

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        transaction.on_commit(partial(caching.task_list_changed, removed=1))

    def delete_queryset(self, request, queryset):
        removed = queryset.count()
        super().delete_queryset(request, queryset)
        transaction.on_commit(partial(caching.task_list_changed, removed=removed))
