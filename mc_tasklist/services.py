"""Writes to the task list. Each one tells the caching policy after it commits."""

from functools import partial

from django.db import transaction

from mc_tasklist import caching
from mc_tasklist.models import Task


def task_create(*, name: str) -> Task:
    with transaction.atomic():
        task = Task.objects.create(name=name)
        # After the commit: invalidating earlier would let a reader cache the
        # list as it was before this write.
        transaction.on_commit(caching.task_list_changed)
    return task


def task_delete(*, task_id: int) -> Task | None:
    """Delete a task. Returns it, or None if it did not exist (or was deleted already)."""
    with transaction.atomic():
        task = Task.objects.select_for_update().filter(id=task_id).first()
        if task is None:
            return None
        task.delete()
        transaction.on_commit(partial(caching.task_list_changed, removed=1))
    return task
