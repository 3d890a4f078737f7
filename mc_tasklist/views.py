"""Thin views: parse the request, call a service or the list page, answer."""

from django.contrib import messages
from django.shortcuts import redirect
from django.views.decorators.http import require_POST, require_safe

from mc_tasklist import list_page, paging, services
from mc_tasklist.forms import RemoveTaskForm, TaskForm
from mc_tasklist.throttling import limit_anonymous_writes


@require_safe
def index(request):
    return list_page.response(request, paging.requested(request.GET))


@require_POST
@limit_anonymous_writes
def add(request):
    form = TaskForm(request.POST)
    if not form.is_valid():
        # The page comes back with the message and the name as typed.
        return list_page.response(request, form=form, status=400)
    task = services.task_create(name=form.cleaned_data["name"])
    messages.success(request, f"Added “{task.name}”.")
    return redirect("index")


@require_POST
@limit_anonymous_writes
def remove(request):
    form = RemoveTaskForm(request.POST)
    if not form.is_valid():
        return list_page.response(request, error=form.errors["id"][0], status=400)
    task = services.task_delete(task_id=form.cleaned_data["id"])
    if task is None:
        return list_page.response(
            request, error="That task does not exist; it may have been deleted already.", status=404
        )
    messages.success(request, f"Deleted “{task.name}”.")
    return redirect("index")
