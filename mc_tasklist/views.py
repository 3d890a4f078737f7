from django.contrib import messages
from django.shortcuts import redirect
from django.views.decorators.http import require_POST, require_safe

from mc_tasklist import services
from mc_tasklist.forms import RemoveTaskForm, TaskForm
from mc_tasklist.rendering import list_page_response


@require_safe
def index(request):
    return list_page_response(request, number=requested_page(request))


def requested_page(request) -> int:
    """?page=N. Anything but a positive whole number means the first page."""
    try:
        number = int(request.GET.get("page", "1"))
    except ValueError:  # Not a number, or more digits than Python will convert.
        return 1
    return max(number, 1)


@require_POST
def add(request):
    form = TaskForm(request.POST)
    if not form.is_valid():
        # The page comes back with the message and the name as typed.
        return list_page_response(request, form=form, status=400)
    task = services.task_create(name=form.cleaned_data["name"])
    messages.success(request, f"Added “{task.name}”.")
    return redirect("index")


@require_POST
def remove(request):
    form = RemoveTaskForm(request.POST)
    if not form.is_valid():
        return list_page_response(request, error=form.errors["id"][0], status=400)
    task = services.task_delete(task_id=form.cleaned_data["id"])
    if task is None:
        return list_page_response(
            request, error="That task does not exist; it may have been deleted already.", status=404
        )
    messages.success(request, f"Deleted “{task.name}”.")
    return redirect("index")
