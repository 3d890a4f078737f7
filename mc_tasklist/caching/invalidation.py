"""What each kind of committed write does to the cache, as TASKLIST_INVALIDATION says.

Services call these after the commit (``transaction.on_commit``): invalidating
earlier would let a reader cache the list as it was before the write.

An invalidation that cannot reach its server (down, hung, cut off) is kept in
``pending`` and retried by this process until the server confirms it
(``RetryPendingInvalidationsMiddleware`` drives it before every request), so a
server that comes back holding old entries has them removed as soon as this
process reaches it again. Every entry also has a TTL, so an invalidation that
is never retried (the process ended) is repaired after TASKLIST_CACHE_TTL.
"""

import threading
import time

from django.conf import settings
from django.core.cache import cache

from mc_tasklist import stats
from mc_tasklist.caching import keys
from mc_tasklist.caching.read_through import TaskListCache
from mc_tasklist.selectors import page_count, task_count, task_page


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
    strategy = settings.TASKLIST_INVALIDATION
    if strategy == "expire":
        return
    stats.record("invalidation")
    if strategy == "version":
        _next_generation()
        return
    # Newest first: one task more or less shifts every page, so every page that
    # could have been cached goes. Deleting also voids the lease of any reader
    # still filling these entries.
    _delete(keys.list_keys(page_count(task_count() + removed)))
    if strategy == "update" and "query" in settings.TASKLIST_CACHE_LAYERS:
        # Only the first page's list is stored again; pages are left to the next
        # reader, who rebuilds them from this list and the cached rows.
        TaskListCache().refill_tasks(1, task_page)


def _next_generation() -> None:
    try:
        cache.incr(keys.GENERATION_KEY)
    except ValueError:
        # No generation (evicted), or the server did not answer. Deleting it
        # does what the increment would: readers start a new random one, which
        # names no old entry. If the server is unreachable, the delete is retried.
        _delete([keys.GENERATION_KEY])


def _delete(names: list[str]) -> None:
    # Past this time the entries have expired, so the keys need no retry.
    expired_by = time.monotonic() + keys.entries_expire_within()
    pending.delete_or_remember(dict.fromkeys(names, expired_by))


class PendingInvalidations:
    """Keys whose deletion no server has confirmed, each until its entries will have expired anyway."""

    def __init__(self):
        self._keys: dict[str, float] = {}
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return bool(self._keys)

    def delete_or_remember(self, expiring: dict[str, float]) -> None:
        """Delete the keys; remember those whose server did not confirm it."""
        unreached = cache.delete_many_unreached(list(expiring))
        if unreached:
            with self._lock:
                for key in unreached:
                    self._keys[key] = max(expiring[key], self._keys.get(key, 0))

    def retry(self) -> None:
        if not self._keys:  # Nearly always: then this costs nothing.
            return
        now = time.monotonic()
        with self._lock:
            due = {key: expired_by for key, expired_by in self._keys.items() if expired_by > now}
            self._keys.clear()
        if due:
            self.delete_or_remember(due)

    def forget(self) -> None:
        with self._lock:
            self._keys.clear()


# One per process: what this process's writes could not yet invalidate.
pending = PendingInvalidations()
