"""What each kind of write does to the cache, as TASKLIST_INVALIDATION says, and how no fault loses it.

A write calls one of ``task_created``, ``task_updated`` or ``tasks_deleted``
inside its transaction. That records the change as an UnconfirmedInvalidation
row in the same transaction (an outbox: it exists exactly when the write does)
and tells every process through PostgreSQL's NOTIFY, which is delivered only
if the transaction commits. (An add on PostgreSQL is one statement with its
outbox row and announcement, committed by itself: ``insert_recorded``.) After
the commit the writer invalidates: it deletes the list and page entries (or
moves the generation, under ``version``).

Under ``update`` the writer stores the first page anew instead of deleting it
(TaskListCache.replace_first_page, through the ``refresh`` the service passes),
so no reader misses it while it is cached; an entry carries the list's version
and is replaced only by a newer one, so two writers cannot undo each other. The
repairs below store it anew too (retry_pending); deleting stays the way of every
other strategy, and of any store that fails.

If every cache server confirmed, the writer deletes the row and says "done".
If one did not (down, hung, cut off from this instance, or skipped while this
thread backs off after a failure), the writer says so to every process
(caching/channel.py): each holds the change pending at once, reading none of
its entries, says so, and tries to apply it; the writer acknowledges the write
once one of them has confirmed it, or every one has said it holds it. So a read
that starts after the acknowledgement shows the write, wherever it lands. Each
process retries what it holds pending before every request it serves, so a
server that comes back holding old entries has them replaced or removed before
anyone reads them. If the writer died right after its commit, the row stays, and
every other process applies it a moment later (caching/watcher.py).

Invalidating after the commit matters: earlier, a reader could cache the list
as it was before the write, between the invalidation and the commit.
"""

import logging
import threading
import time
from collections.abc import Callable
from functools import partial

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection, transaction

from mc_tasklist import connections, stats
from mc_tasklist.caching import channel, keys
from mc_tasklist.caching.pending import pending
from mc_tasklist.caching.recent_rows import recent_rows
from mc_tasklist.models import Task, UnconfirmedInvalidation

logger = logging.getLogger(__name__)

# What a write under ``update`` calls after its commit to store the first page anew (list_page.py
# passes it in, so that this module renders nothing); returns whether the cache now holds it.
Refresh = Callable[[], bool]

# How long a writer that could not confirm its change waits at most for the other processes'
# answers (caching/channel.py): they come in milliseconds, from threads that never wait for a cache.
ANSWERS_WAIT_SECONDS = 0.3


def task_created(task: Task, *, refresh: Refresh | None = None) -> None:
    """A task was added: it is the newest, so the first page changes and no other.

    Unless a task with a higher id committed first (ids are handed out before
    commit, so two adds can commit out of order): then this one lands below
    it, possibly on an older page, and the older pages go too.
    """
    _list_changed(older_pages=False, above=task.id, refresh=refresh)


def can_record_in_the_write_statement() -> bool:
    """Whether an add can be one statement with its outbox row, committed on its own (see insert_recorded)."""
    return (
        settings.TASKLIST_INVALIDATION != "expire"
        and connection.vendor == "postgresql"
        and not connection.in_atomic_block
    )


def insert_recorded(insert: str, params: list, *, refresh: Refresh | None = None) -> tuple:
    """Run ``insert`` (one task's INSERT ... RETURNING id, ...) with its outbox row and announcement
    as one statement that commits by itself, then invalidate. Returns the inserted row.

    As task_created, in one round trip: a write holds the task count's row lock
    (models.TaskCount) until it commits, and every other write waits for it. In a
    transaction of its own the lock lasted from the insert, through the outbox
    statement and Python's turn at the GIL among 16 busy threads, to the commit;
    under 64 connections the writes queued past the connection pool's 0.5 s wait.
    In one statement it lasts while PostgreSQL executes and commits it.
    """
    outbox, tasks = UnconfirmedInvalidation._meta.db_table, Task._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH added AS ({insert}),"
            f" change AS (INSERT INTO {outbox} (older_pages, created_at)"
            # The newest id before this statement (its own insert is not visible to it): one index probe.
            # EXISTS (... WHERE id > added.id) was planned as a sequential scan of a million tasks.
            f" SELECT coalesce((SELECT max(id) FROM {tasks}) > added.id, false), now() FROM added"
            " RETURNING id, older_pages)"
            f" SELECT {channel.ANNOUNCED}, added.* FROM added, change",
            [*params, channel.CHANNEL],
        )
        change_id, older_pages, _, *row = cursor.fetchone()
    _after_commit(change_id, older_pages, refresh)
    return tuple(row)


def task_updated(*, refresh: Refresh | None = None) -> None:
    # A renamed task's row has a new fragment key; the lists and pages that hold it go, wherever it is.
    _list_changed(older_pages=True, refresh=refresh)


def tasks_deleted(*, refresh: Refresh | None = None) -> None:
    _list_changed(older_pages=True, refresh=refresh)


def cache_flushed() -> None:
    """Empty the whole cache. Nothing is left to invalidate, so nothing stays pending."""
    cache.clear()
    pending.forget()
    recent_rows.clear()


def _list_changed(*, older_pages: bool, refresh: Refresh | None, above: int | None = None) -> None:
    """Record the change in the write's transaction; invalidate once it commits.

    ``above``: the older pages change too if any task above this id exists already.
    """
    if settings.TASKLIST_INVALIDATION == "expire":
        return  # Entries live out their TTL: the documented lag.
    change_id, older_pages = _record(older_pages, above)
    transaction.on_commit(partial(_after_commit, change_id, older_pages, refresh))


def _record(older_pages: bool, above: int | None) -> tuple[int, bool]:
    """The outbox row and its announcement, in one statement on PostgreSQL.

    One statement, because a write holds the task count's row lock (models.TaskCount) from its
    insert to its commit, and every other write waits for it meanwhile.
    """
    if connection.vendor != "postgresql":  # SQLite (development) has one process and nobody to tell.
        older_pages = older_pages or (above is not None and Task.objects.filter(id__gt=above).exists())
        return UnconfirmedInvalidation.objects.create(older_pages=older_pages).id, older_pages
    outbox, tasks = UnconfirmedInvalidation._meta.db_table, Task._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH change AS (INSERT INTO {outbox} (older_pages, created_at)"
            f" SELECT %s OR EXISTS (SELECT 1 FROM {tasks} WHERE id > %s), now() RETURNING id, older_pages)"
            f" SELECT {channel.ANNOUNCED} FROM change",
            [older_pages, above if above is not None else 2**63 - 1, channel.CHANNEL],
        )
        change_id, older_pages, _ = cursor.fetchone()
        return change_id, older_pages


def _after_commit(change_id: int, older_pages: bool, refresh: Refresh | None) -> None:
    stats.record("invalidation")
    changes = {change_id: older_pages}
    if not settle(changes, refresh):
        _hand_over(changes)


def _hand_over(changes: dict[int, bool]) -> None:
    """The cache did not confirm this write's change here: have every process hold it pending and
    try it, and wait for their answers before the write is acknowledged (see caching/channel.py)."""
    if not channel.listening.is_set():
        return  # No watcher here to hear the answers (none run in development, or with watching off).
    try:
        processes = channel.ask_for_help(changes)
    except DatabaseError as error:
        # The change stays in the outbox: the others apply it after their grace (watcher.py).
        logger.warning("could not hand invalidations %s over: %s", sorted(changes), error)
        return
    connections.give_back()
    if not pending.wait_until_answered(changes, processes=processes, timeout=ANSWERS_WAIT_SECONDS):
        logger.info("invalidations %s unconfirmed: every process holds them pending", sorted(changes))


def settle(changes: dict[int, bool], refresh: Refresh | None = None) -> bool:
    """Bring the cache up to committed changes: under ``update`` by storing the first page anew,
    otherwise (or if that fails) by deleting. Returns whether every cache server confirmed."""
    if settings.TASKLIST_INVALIDATION == "update" and refresh is not None and refresh():
        # The first page's entries hold these writes (or later ones): nothing of them to delete.
        # Older pages are still named by a generation the writes move.
        if not any(changes.values()) or _next_generation(keys.OLDER_PAGES_GENERATION_KEY):
            _confirmed(changes)
            return True
    return apply(changes)  # deleting is always safe


def apply(changes: dict[int, bool]) -> bool:
    """Invalidate for committed changes (id -> whether older pages change too). Returns whether every
    cache server confirmed.

    Confirmed changes are deleted from the outbox; the others stay there and in ``pending``.
    Deleting also voids the lease of any reader still filling these entries.
    """
    if settings.TASKLIST_INVALIDATION == "version":
        confirmed = _next_generation(keys.GENERATION_KEY)
    else:
        confirmed = not cache.delete_many_unreached(keys.first_page_keys())
        if any(changes.values()):
            confirmed = _next_generation(keys.OLDER_PAGES_GENERATION_KEY) and confirmed
    if not confirmed:
        hold_pending(changes)
        return False
    _confirmed(changes)
    return True


def _confirmed(changes: dict[int, bool]) -> None:
    pending.discard(changes)
    try:
        _mark_confirmed(list(changes))
    except DatabaseError as error:
        # The write stands and the cache is fresh; another process will apply
        # the change once more, which costs a miss, not a stale page.
        logger.warning("could not mark invalidations %s confirmed: %s", sorted(changes), error)


def hold_pending(changes: dict[int, bool]) -> None:
    """Read no list or page entry in this process until these changes are confirmed (pending.py)."""
    pending.add(changes, expired_by=time.monotonic() + keys.entries_expire_within())


def retry_pending(refresh: Refresh | None = None) -> None:
    """Apply again what this process could not get confirmed (nearly always nothing: then it costs nothing).

    As the writer would have: under ``update``, by storing the first page anew. Deleting would leave
    the entries missing, and a writer's refresh that a frozen server held up since before a later
    write could then land there, older than that write (1 of 8 quick chaos runs of the blips scenario
    served such a page after the cache was back); stored anew, the entries hold the newest list and
    a late, older refresh finds it and keeps it (set_unless). One thread of the process at a time:
    the others read the database meanwhile, as everything pending makes them.
    """
    if not pending or not _retrying.acquire(blocking=False):
        return
    try:
        if due := pending.due():
            settle(due, refresh)
    finally:
        _retrying.release()


_retrying = threading.Lock()


def _next_generation(key: str) -> bool:
    try:
        cache.incr(key)
        return True
    except ValueError:
        # No generation (evicted), or the server did not answer. Deleting it
        # does what the increment would: readers start a new random one, which
        # names no old entry.
        return not cache.delete_many_unreached([key])


def _mark_confirmed(change_ids: list[int]) -> None:
    """Delete the changes from the outbox and say "done": on PostgreSQL one statement, committed
    without waiting for the disk.

    Losing it in a database crash costs another process one needless repair, not a stale page.
    """
    if connection.vendor != "postgresql":
        UnconfirmedInvalidation.objects.filter(id__in=change_ids).delete()
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"WITH confirmed AS (DELETE FROM {UnconfirmedInvalidation._meta.db_table} WHERE id = ANY(%s))"
            " SELECT set_config('synchronous_commit', 'off', true), pg_notify(%s, %s)",
            [change_ids, channel.CHANNEL, channel.done_message(change_ids)],
        )
