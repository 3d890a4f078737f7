"""Reads of the task list: the one query, and which page of it a visitor may see."""

import time

from django.conf import settings

from mc_tasklist import stats
from mc_tasklist.models import Task


def task_page(number: int) -> dict:
    """One page of tasks, newest first, as plain values: what the query layer caches.

    Plain values, not a QuerySet: a pickled QuerySet is tied to Django's
    internals and may not load after an upgrade, and it re-runs its query.
    Returns {"tasks": [{"id", "name", "created_at"}, ...], "count": all tasks}.
    """
    stats.record("task_list_query")
    if settings.TASKLIST_QUERY_DELAY:
        # The tutorial's stand-in for an expensive query.
        time.sleep(settings.TASKLIST_QUERY_DELAY)
    size = settings.TASKLIST_PAGE_SIZE
    start = (number - 1) * size
    tasks = list(Task.objects.order_by("-id").values("id", "name", "created_at")[start : start + size])
    return {"tasks": tasks, "count": task_count()}


def task_count() -> int:
    return Task.objects.count()


def task_count_up_to(limit: int) -> int:
    """The number of tasks, or ``limit`` if there are at least that many: counting stops there,
    so the cost does not grow with the list (COUNT(*) over a million rows takes tens of ms)."""
    return Task.objects.all()[:limit].count()


def page_count(task_count: int) -> int:
    """Pages the list fills; an empty list still has its first page."""
    return max(1, -(-task_count // settings.TASKLIST_PAGE_SIZE))


def page_in_range(number: int, task_count: int) -> tuple[int, bool]:
    """The page to show for a requested page number, and whether the request was past the last page.

    A page past the last shows the last one (with a 404), so a stale link still
    lands somewhere useful and ``?page=<anything>`` never makes a new cache entry.
    """
    last = page_count(task_count)
    return (last, True) if number > last else (number, False)
