"""Writes to the task list. Each one tells the caching policy in its transaction; the policy acts once it
commits, and the write returns a moment later (mc_tasklist/caching/invalidation.py says why)."""

from django.db import transaction

from mc_tasklist import list_page
from mc_tasklist.caching import invalidation
from mc_tasklist.models import Task


def task_create(*, name: str) -> Task:
    _check_name(name)
    # One statement, committed by itself: a write holds the task count's row lock (models.TaskCount)
    # until it commits, and every other write waits for it meanwhile.
    task = Task.objects.create(name=name)
    invalidation.list_changed(refresh=list_page.refresh_first_page)
    return task


def task_update(*, task: Task, name: str) -> Task:
    _check_name(name)
    with transaction.atomic():
        task.name = name
        task.save(update_fields=["name"])
        invalidation.list_changed(refresh=list_page.refresh_first_page)
    return task


def _check_name(name: str) -> None:
    """The task's own rules (models.Task.name), for every caller; raises ValidationError.

    The form and the admin have checked already; a shell, a command or a new view may not have.
    """
    Task._meta.get_field("name").clean(name, None)


def task_delete(*, task_id: int) -> Task | None:
    """Delete a task. Returns it, or None if it did not exist (or was deleted already)."""
    with transaction.atomic():
        task = Task.objects.select_for_update().filter(id=task_id).first()
        if task is None:
            return None
        task.delete()
        invalidation.list_changed(refresh=list_page.refresh_first_page)
    return task


def task_delete_many(*, task_ids: list[int]) -> int:
    """Delete the tasks that exist among ``task_ids``; returns how many were deleted."""
    with transaction.atomic():
        deleted, _ = Task.objects.filter(id__in=task_ids).delete()
        if deleted:
            invalidation.list_changed(refresh=list_page.refresh_first_page)
    return deleted
