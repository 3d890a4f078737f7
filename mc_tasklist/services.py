"""Writes to the task list. Each one tells the caching policy inside its transaction (an add on
PostgreSQL: inside its one statement).

The policy records the change with the write and invalidates after the commit
(mc_tasklist/caching/invalidation.py), so no fault can separate the two.
"""

from django.db import transaction

from mc_tasklist import list_page
from mc_tasklist.caching import invalidation
from mc_tasklist.models import Task


def task_create(*, name: str) -> Task:
    _check_name(name)
    if invalidation.can_record_in_the_write_statement():
        # The add, its outbox row and its announcement in one statement (see insert_recorded).
        task_id, created_at = invalidation.insert_recorded(
            f"INSERT INTO {Task._meta.db_table} (name, created_at) VALUES (%s, now()) RETURNING id, created_at",
            [name],
            refresh=list_page.refresh_first_page,
        )
        return Task(id=task_id, name=name, created_at=created_at)
    with transaction.atomic():
        task = Task.objects.create(name=name)
        invalidation.task_created(task, refresh=list_page.refresh_first_page)
    return task


def task_update(*, task: Task, name: str) -> Task:
    _check_name(name)
    with transaction.atomic():
        task.name = name
        task.save(update_fields=["name"])
        invalidation.task_updated(refresh=list_page.refresh_first_page)
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
        invalidation.tasks_deleted(refresh=list_page.refresh_first_page)
    return task


def task_delete_many(*, task_ids: list[int]) -> int:
    """Delete the tasks that exist among ``task_ids``; returns how many were deleted."""
    with transaction.atomic():
        deleted, _ = Task.objects.filter(id__in=task_ids).delete()
        if deleted:
            invalidation.tasks_deleted(refresh=list_page.refresh_first_page)
    return deleted
