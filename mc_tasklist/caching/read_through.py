"""A request's reads of the task list: from this process's copy, from memcached, or filled under a lease.

Every list and page entry carries the version it shows and is served only for the version this request
trusts (list_version.py): under ``version`` and ``update`` the key names it, under ``delete`` the entry's
stamp is compared; under ``expire`` no version is read and entries live their TTL.
"""

import logging
import time
from collections.abc import Callable
from contextlib import contextmanager

from django.conf import settings
from django.core.cache import cache
from django.utils.functional import cached_property
from sasl_memcached import CACHE_UNAVAILABLE

from mc_tasklist import stats
from mc_tasklist.caching import keys
from mc_tasklist.caching.list_version import Versions, list_versions
from mc_tasklist.caching.local_copies import recent_rows, served_pages
from mc_tasklist.paging import FIRST, PageRef

# How often a request waiting for another's fill looks for it: a small get, and a page renders in milliseconds.
STAMPEDE_POLL_SECONDS = 0.005
# How much longer than the query a reader waits for another's fill: the filler may be gone (killed, or cut
# off from the cache with its placeholder left until the lease expires, which would hold every reader).
FILL_WAIT_MARGIN_SECONDS = 0.3
# What every task in a cached list has (selectors.task_page): rendering needs each.
TASK_FIELDS = frozenset({"id", "name", "created_at"})

logger = logging.getLogger(__name__)


class TaskListCache:
    """The cached pieces of the task list page, for one request. ``served`` (how each layer answered) and
    ``cache_seconds`` (time spent waiting for the cache) go to X-Cache and the request log line."""

    def __init__(self):
        self.layers = settings.TASKLIST_CACHE_LAYERS
        self.strategy = settings.TASKLIST_INVALIDATION
        self.ttl = settings.TASKLIST_CACHE_TTL
        self.served: dict[str, str] = {}
        self.cache_seconds = 0.0
        self._stop_waiting_at: float | None = None
        self._shown_versions: dict[PageRef, int | None] = {}  # the version of each page's list, as read

    @contextmanager
    def _waiting_for_cache(self):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.cache_seconds += time.perf_counter() - start

    @cached_property
    def versions(self) -> Versions | None:
        """The versions this request serves, read once (None under ``expire``)."""
        return None if self.strategy == "expire" else list_versions.current()

    def _entry(self, make_key: Callable, page: PageRef) -> tuple[str, int | None]:
        """An entry's key, and the version it must show (None: any)."""
        if self.versions is None:
            return make_key(page), None
        wanted = self.versions.of(page)
        return make_key(page, None if self.strategy == "delete" else wanted), wanted

    def tasks(self, page: PageRef, load: Callable[[PageRef], dict]) -> dict:
        """One page of the list, as selectors.task_page gives it."""
        key, wanted = self._entry(keys.tasks_key, page)
        data = self._fetch("query", key, wanted, lambda: load(page), _is_task_page, _version_of_list)
        self._shown_versions[page] = data.get("version")
        return data

    def page(self, page: PageRef, render: Callable[[], str]) -> bytes:
        key, wanted = self._entry(keys.page_key, page)
        if "page" in self.layers and wanted is not None:
            if (body := self._from_copy(key, wanted)) is not None:
                return body
            stats.record("process_miss")

        def compute():
            body = render().encode()  # reads the list, and so learns its version
            return (self._shown_versions.get(page), body)

        version, body = self._fetch("page", key, wanted, compute, _is_page, _version_of_page)
        self._keep_copy(key, wanted, version, body)
        return body

    def cached_page(self, page: PageRef) -> bytes | None:
        """The page from this process's copy or the cache (a hit, counted), else None (the fast path,
        page_hits.py: the request then goes through Django, which counts the miss and fills the entry)."""
        if "page" not in self.layers:
            return None
        key, wanted = self._entry(keys.page_key, page)
        if (body := self._from_copy(key, wanted)) is not None:
            return body
        value = self._get(key, _is_page)
        if value is None or not _shows(value[0], wanted):
            return None
        if wanted is not None:
            stats.record("process_miss")
        self.served["page"] = "hit"
        stats.record("page_hit")
        self._keep_copy(key, wanted, *value)
        return value[1]

    def _from_copy(self, key: str, wanted: int | None) -> bytes | None:
        """This process's copy of the page (none under ``expire``: no version names it)."""
        body = served_pages.get((key, wanted)) if wanted is not None else None
        if body is not None:
            self.served["page"] = "process-hit"
            stats.record("process_hit")
        return body

    def store_first_page(self, data: dict, render: Callable[[dict], str]) -> None:
        """After a write under ``update``: the first page of ``data``'s version stored under it, so that its
        readers do not miss (a reader's fill of it is replaced, voiding its lease: both hold the same list)."""
        version = data["version"]
        if "page" in self.layers:
            body = render(data).encode()
            key = keys.page_key(FIRST, version)
            with self._waiting_for_cache():
                cache.set(key, (version, body), self.ttl)
            self._keep_copy(key, version, version, body)
        if "query" in self.layers:
            with self._waiting_for_cache():
                cache.set(keys.tasks_key(FIRST, version), data, self.ttl)

    def rows(self, tasks: list[dict], render_row: Callable[[dict], str]) -> list[str]:
        """Each task's rendered row, from the cache where it has one."""
        if "fragment" not in self.layers:
            self.served["fragments"] = "off"
            return [render_row(task) for task in tasks]
        row_keys = [keys.fragment_key(task) for task in tasks]
        found = recent_rows.get_many(row_keys)
        if wanted := [key for key in row_keys if key not in found]:
            with self._waiting_for_cache():
                from_cache = cache.get_many(wanted)
            found |= {key: row for key, row in from_cache.items() if isinstance(row, str)}  # else rendered again
        self.served["fragments"] = f"{len(found)}/{len(row_keys)}"
        stats.record("fragment_hit", len(found))
        rendered = {key: render_row(task) for key, task in zip(row_keys, tasks, strict=True) if key not in found}
        if rendered:
            stats.record("fragment_miss", len(rendered))
            with self._waiting_for_cache():
                cache.set_many(rendered, keys.FRAGMENT_TTL)
        rows = [found[key] if key in found else rendered[key] for key in row_keys]
        recent_rows.put_many(dict(zip(row_keys, rows, strict=True)))
        return rows

    def _keep_copy(self, key: str, wanted: int | None, version: int | None, body: bytes) -> None:
        if wanted is not None and version == wanted:
            served_pages.put_many({(key, wanted): body})

    def _fetch(self, layer: str, key: str, wanted: int | None, compute: Callable, valid, version_of):
        if layer not in self.layers:
            self.served[layer] = "off"
            return compute()
        value = self._get(key, valid)
        if value is not None and not _shows(version_of(value), wanted):
            if version_of(value) is not None and version_of(value) > wanted:
                # Newer than this request's version (a write in its window): read, and store nothing.
                self.served[layer] = "newer"
                stats.record(f"{layer}_miss")
                return compute()
            value = None  # Older (``delete``, its writer's delete lost): a miss, removed so that it is filled.
            with self._waiting_for_cache():
                cache.delete(key)
        outcome = "miss" if value is None else "hit"  # An empty list is a hit too.
        self.served[layer] = outcome
        stats.record(f"{layer}_{outcome}")
        return value if value is not None else self._fill(key, wanted, compute, valid, version_of)

    def _get(self, key: str, valid: Callable[[object], bool]):
        """The entry, or None; one of the wrong shape (a signed value copied from another key) is removed."""
        with self._waiting_for_cache():
            value = cache.get(key)
            if value is None or valid(value):
                return value
            logger.warning("cache entry %r has the wrong shape (%s); removed", key, type(value).__name__)
            cache.delete(key)
        return None

    def _fill(self, key: str, wanted: int | None, compute: Callable, valid, version_of):
        """Compute a missing entry and store it, unless another process is at it: then wait for its value,
        so that a burst on a cold cache runs the expensive query once."""
        if self._stop_waiting_at is None:
            # One budget for the request: the page's fill and the list's fill inside it would otherwise each wait.
            self._stop_waiting_at = time.monotonic() + settings.TASKLIST_QUERY_DELAY + FILL_WAIT_MARGIN_SECONDS
        waited = False
        while True:
            with self._waiting_for_cache():
                lease = cache.lease(key, keys.lease_ttl())
            if lease is CACHE_UNAVAILABLE or (lease is None and time.monotonic() > self._stop_waiting_at):
                return compute()  # Nobody will fill it (cache down), or the filler is gone.
            if lease is not None:
                try:
                    value = compute()
                except BaseException:  # the database failed: the waiters stop waiting now, not at their budget's end
                    with self._waiting_for_cache():
                        cache.delete(key)
                    raise
                with self._waiting_for_cache():
                    if self._belongs_under(key, wanted, version_of(value)):
                        cache.set_if_leased(key, lease, value, self.ttl)
                    else:
                        cache.delete(key)  # Another version than the key names: the waiters read for themselves.
                return value
            if not waited:
                waited = True
                stats.record("stampede_wait")
            with self._waiting_for_cache():
                time.sleep(STAMPEDE_POLL_SECONDS)
            value = self._get(key, valid)
            if value is not None:
                return value if _shows(version_of(value), wanted) else compute()

    def _belongs_under(self, key: str, wanted: int | None, version: int | None) -> bool:
        """Whether an entry showing ``version`` may be stored under ``key``, read for ``wanted`` (None: expire)."""
        return wanted is None or version == wanted or (self.strategy == "delete" and version is not None)


def _shows(version: int | None, wanted: int | None) -> bool:
    """Whether an entry showing ``version`` may be served for ``wanted`` (None: any, under ``expire``)."""
    return wanted is None or version == wanted


def _version_of_list(value) -> int | None:
    return value.get("version") if isinstance(value, dict) else None


def _version_of_page(value) -> int | None:
    return value[0] if isinstance(value, tuple) and value else None


def _is_page(value) -> bool:
    """(the version it shows, or None; the page's HTML)."""
    return (
        isinstance(value, tuple)
        and len(value) == 2
        and isinstance(value[0], int | None)
        and isinstance(value[1], bytes)
    )


def _is_task_page(value) -> bool:
    return (
        isinstance(value, dict)
        and (value.get("count") is None or isinstance(value.get("count"), int))
        and isinstance(value.get("older"), bool)
        and isinstance(value.get("tasks"), list)
        and all(isinstance(task, dict) and TASK_FIELDS <= task.keys() for task in value["tasks"])
    )
