"""What each kind of write does to the cache, as TASKLIST_INVALIDATION says, and how no fault loses it.

A write calls one of ``task_created``, ``task_updated`` or ``tasks_deleted``
inside its transaction. That records the change as an UnconfirmedInvalidation
row in the same transaction (an outbox: it exists exactly when the write does)
and tells every process through PostgreSQL's NOTIFY, which is delivered only
if the transaction commits. After the commit the writer invalidates: it deletes
the list and page entries (or moves the generation, under ``version``).

If every cache server confirmed, the writer deletes the row and says "done".
If one did not (down, hung, cut off from this instance, or skipped while this
process backs off after a failure), or the writer died right after its commit,
the row stays, and every other process applies it a moment later
(caching/watcher.py): any process that can reach the cache repairs it. Each
process also keeps the changes it could not apply itself in ``pending`` and
retries them before every request it serves, so a server that comes back
holding old entries has them removed before anyone reads them.

Invalidating after the commit matters: earlier, a reader could cache the list
as it was before the write, between the invalidation and the commit.
"""

import logging
import time
from functools import partial

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection, transaction

from mc_tasklist import rendering, stats
from mc_tasklist.caching import keys
from mc_tasklist.caching.pending import pending
from mc_tasklist.caching.read_through import TaskListCache
from mc_tasklist.models import UnconfirmedInvalidation
from mc_tasklist.selectors import page_count, task_count_up_to, task_page

logger = logging.getLogger(__name__)

# The PostgreSQL channel: "new <id> <pages>" at a write's commit, "done <id>,<id>" once confirmed.
CHANNEL = "tasklist_invalidation"


def task_created() -> None:
    _list_changed(removed=0)


def task_updated() -> None:
    # A renamed task's row has a new fragment key; the lists and pages that hold it go.
    _list_changed(removed=0)


def tasks_deleted(count: int) -> None:
    """``count`` tasks are gone: every page that existed before they went is invalidated too."""
    _list_changed(removed=count)


def cache_flushed() -> None:
    """Empty the whole cache. Nothing is left to invalidate, so nothing stays pending."""
    cache.clear()
    pending.forget()


def _list_changed(*, removed: int) -> None:
    """Record the change in the write's transaction; invalidate once it commits."""
    if settings.TASKLIST_INVALIDATION == "expire":
        return  # Entries live out their TTL: the documented lag.
    # Newest first: one task more or less shifts every page, so every page that could have been
    # cached goes. Past PAGES_DELETED_BY_KEY pages one generation names them all, so counting
    # further would change nothing (and cost a full count).
    enough = (keys.PAGES_DELETED_BY_KEY + 1) * settings.TASKLIST_PAGE_SIZE
    pages = page_count(task_count_up_to(enough) + removed)
    change = UnconfirmedInvalidation.objects.create(pages=pages)
    _notify(f"new {change.id} {pages}")
    transaction.on_commit(partial(_after_commit, change.id, pages))


def _after_commit(change_id: int, pages: int) -> None:
    stats.record("invalidation")
    confirmed = apply({change_id: pages})
    if settings.TASKLIST_INVALIDATION == "update" and "query" in settings.TASKLIST_CACHE_LAYERS:
        # The first page's list is stored again; other pages' lists are left to their next reader.
        TaskListCache().refill_tasks(1, task_page)
    if confirmed and "page" in settings.TASKLIST_CACHE_LAYERS:
        # The writer renders the first page again at once, under a lease like any fill, so that
        # readers (and this writer's own redirect) find it instead of each missing and waiting.
        # After the delete: a later write's delete voids this lease, so no older page is stored.
        task_cache = TaskListCache()
        task_cache.refill_page(1, lambda: rendering.render_page(task_cache, 1))


def apply(changes: dict[int, int]) -> bool:
    """Invalidate for committed changes (id -> pages). Returns whether every cache server confirmed.

    Confirmed changes are deleted from the outbox; the others stay there and in ``pending``.
    Deleting also voids the lease of any reader still filling these entries.
    """
    pages = max(changes.values())
    if settings.TASKLIST_INVALIDATION == "version":
        confirmed = _next_generation(keys.GENERATION_KEY)
    else:
        confirmed = not cache.delete_many_unreached(keys.list_keys(pages))
        if pages > keys.PAGES_DELETED_BY_KEY:
            confirmed = _next_generation(keys.DEEP_GENERATION_KEY) and confirmed
    if not confirmed:
        pending.add(changes, expired_by=time.monotonic() + keys.entries_expire_within())
        return False
    pending.discard(changes)
    try:
        _mark_confirmed(list(changes))
    except DatabaseError as error:
        # The write stands and the cache is fresh; another process will apply
        # the change once more, which costs a miss, not a stale page.
        logger.warning("could not mark invalidations %s confirmed: %s", sorted(changes), error)
    return True


def retry_pending() -> None:
    """Apply again what this process could not get confirmed (nearly always nothing: then it costs nothing)."""
    if due := pending.due():
        apply(due)


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
    """Delete the changes from the outbox and say "done", in one transaction that need not wait for the disk.

    Losing it in a database crash costs another process one needless delete, not a stale page.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        UnconfirmedInvalidation.objects.filter(id__in=change_ids).delete()
        _notify("done " + ",".join(map(str, change_ids)))


def _notify(payload: str) -> None:
    if connection.vendor == "postgresql":  # SQLite (development) has one process and nobody to tell.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [CHANNEL, payload])
