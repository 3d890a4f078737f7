"""Reads of the task list: the one query, and which page of it a visitor may see."""

import time

from django.conf import settings
from django.db import connection

from mc_tasklist import connections, paging, stats
from mc_tasklist.models import Task, TaskCount
from mc_tasklist.paging import PageElsewhere, PageRef

# What a page holds of each task: what the query layer caches and the row template shows.
FIELDS = ("id", "name", "created_at")


def task_page(ref: PageRef) -> dict:
    """One page of tasks, newest first, as plain values: what the query layer caches.

    Plain values, not a QuerySet: a pickled QuerySet is tied to Django's
    internals and may not load after an upgrade, and it re-runs its query.
    Returns {"tasks": [{"id", "name", "created_at"}, ...], "older": whether
    older tasks follow, "count": all tasks (on the first page; None on others,
    so that an add, which changes the count, need not touch them), "version":
    the version it shows exactly (models.TaskCount: on the first page the list's,
    on others the older pages'; None if a write landed while it was read)}.

    Raises PageElsewhere when the anchor is not a task (deleted since the link
    was made, or typed): the same tasks are then shown under the anchor that
    names them, so each page has one address and one cache entry, and a page
    cached under an anchor above the newest task cannot miss a task added later.
    """
    stats.record("task_list_query")
    if settings.TASKLIST_QUERY_DELAY:
        # The tutorial's stand-in for an expensive query.
        time.sleep(settings.TASKLIST_QUERY_DELAY)
    size = settings.TASKLIST_PAGE_SIZE
    if ref.kind == "first":
        version, count, tasks = _first_page_with_version(size + 1)
        return {"tasks": tasks[:size], "older": len(tasks) > size, "count": count, "version": version}
    # Several statements: the page is exactly of the version read before them only if it did not move meanwhile.
    before = list_versions()[1]
    page = _older_page(ref, size)
    return {**page, "version": before if list_versions()[1] == before else None}


def _older_page(ref: PageRef, size: int) -> dict:
    newest_first = Task.objects.order_by("-id")
    if ref.kind == "before":
        if not Task.objects.filter(id=ref.anchor).exists():
            above = Task.objects.filter(id__gt=ref.anchor).order_by("id").values_list("id", flat=True).first()
            raise PageElsewhere(paging.FIRST if above is None else paging.before(above))
        tasks = list(newest_first.filter(id__lt=ref.anchor).values(*FIELDS)[: size + 1])
        if not tasks:
            raise PageElsewhere(paging.OLDEST)
        return {"tasks": tasks[:size], "older": len(tasks) > size, "count": None}
    if ref.anchor and not Task.objects.filter(id=ref.anchor).exists():
        below = newest_first.filter(id__lt=ref.anchor).values_list("id", flat=True).first()
        raise PageElsewhere(paging.after(below or 0))
    tasks = list(Task.objects.order_by("id").filter(id__gt=ref.anchor).values(*FIELDS)[:size])
    if len(tasks) < size:
        raise PageElsewhere(paging.FIRST)  # The newest tasks: the first page shows them.
    return {"tasks": tasks[::-1], "older": ref.anchor > 0, "count": None}


def _first_page_with_version(limit: int) -> tuple[int, int, list[dict]]:
    """The list's version and count (models.TaskCount) and its newest tasks, read at one moment.

    On PostgreSQL one statement, so one snapshot: the tasks are exactly those of that version.
    Elsewhere the version is read first: the tasks, read after it, hold at least every write up to it.
    """
    if connection.vendor != "postgresql":
        version, count = TaskCount.objects.filter(id=1).values_list("version", "tasks").first() or (0, 0)
        return version, count, list(Task.objects.order_by("-id").values(*FIELDS)[:limit])
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT c.version, c.tasks, t.id, t.name, t.created_at FROM {TaskCount._meta.db_table} c"
            f" LEFT JOIN LATERAL (SELECT id, name, created_at FROM {Task._meta.db_table} ORDER BY id DESC LIMIT %s) t"
            " ON true WHERE c.id = 1",
            [limit],
        )
        rows = cursor.fetchall()
    if not rows:  # no count row yet: nothing was ever written
        return 0, 0, []
    tasks = [{"id": row[2], "name": row[3], "created_at": row[4]} for row in rows if row[2] is not None]
    return rows[0][0], rows[0][1], tasks


def list_versions() -> tuple[int, int]:
    """The list's version and the older pages' (models.TaskCount): one primary-key read.

    Read by every process at most once per TASKLIST_VERSION_WINDOW (caching/list_version.py), on a
    connection held for it and without the ORM's query building.
    """
    return _versions_connection.fetchone(_VERSIONS_SQL) or (0, 0)  # no row yet: nothing was ever written


_VERSIONS_SQL = f"SELECT version, older_pages FROM {TaskCount._meta.db_table} WHERE id = 1"
_versions_connection = connections.HeldConnection()


def task_count() -> int:
    """Every task, read from the row the database's triggers keep (models.TaskCount): one row at any size."""
    return TaskCount.objects.filter(id=1).values_list("tasks", flat=True).first() or 0


def page_holding(number: int) -> PageRef:
    """Where an old numbered link (``?page=N``, pages of TASKLIST_PAGE_SIZE newest first) now points.

    The page that starts where page N started; past the end, the oldest page.
    Skipping to it costs an index scan as deep as the page, paid once per old link followed.
    """
    skipped = (number - 1) * settings.TASKLIST_PAGE_SIZE
    if number <= 1:
        return paging.FIRST
    if skipped >= task_count():
        return paging.OLDEST
    last_before = list(Task.objects.order_by("-id").values_list("id", flat=True)[skipped - 1 : skipped])
    return paging.before(last_before[0]) if last_before else paging.OLDEST
