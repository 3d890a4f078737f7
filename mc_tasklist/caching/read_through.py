"""A request's reads of the task list, each from the cache or filled under a lease."""

import logging
import secrets
import time
from collections.abc import Callable
from contextlib import contextmanager

from django.conf import settings
from django.core.cache import cache
from django.utils.functional import cached_property
from sasl_memcached import CACHE_UNAVAILABLE

from mc_tasklist import stats
from mc_tasklist.caching import keys
from mc_tasklist.caching.newest_shown import newest_shown
from mc_tasklist.caching.pending import pending
from mc_tasklist.caching.recent_rows import recent_rows
from mc_tasklist.paging import FIRST, PageRef

# How often a request waiting for another process's fill looks for the value: each look is
# one small get, and a page renders in a few milliseconds.
STAMPEDE_POLL_SECONDS = 0.005
# How much longer than the query itself a reader waits for another process's
# fill before it stops waiting and queries too. The filler may be gone: killed,
# or cut off from the cache with its placeholder left there until the lease
# expires (seconds), which would hold every reader for that long.
FILL_WAIT_MARGIN_SECONDS = 0.3
# How long a read that found an entry older than what its instance showed waits for the newer one:
# the write in flight stores it a few milliseconds after its commit.
CATCH_UP_SECONDS = 0.05
# What every task in a cached list has (selectors.task_page): rendering needs each.
TASK_FIELDS = frozenset({"id", "name", "created_at"})

logger = logging.getLogger(__name__)


class TaskListCache:
    """The cached pieces of the task list page, for one request.

    ``served`` records how each layer answered (hit, miss, off) and
    ``cache_seconds`` the time spent waiting for the cache, for the response's
    X-Cache header and the request log line.
    """

    def __init__(self):
        self.layers = settings.TASKLIST_CACHE_LAYERS
        self.strategy = settings.TASKLIST_INVALIDATION
        self.ttl = settings.TASKLIST_CACHE_TTL
        self.served: dict[str, str] = {}
        self.cache_seconds = 0.0
        self._stop_waiting_at: float | None = None
        self._data_versions: dict[PageRef, int | None] = {}
        # Entries live out their TTL under ``expire``: its documented lag, older than what was shown or not.
        self._never_back_in_time = self.strategy != "expire"

    @contextmanager
    def _waiting_for_cache(self):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.cache_seconds += time.perf_counter() - start

    @cached_property
    def _generation(self):
        """Under ``version``, the generation naming every list and page entry; read once per request."""
        with self._waiting_for_cache():
            return current_generation(keys.GENERATION_KEY)

    @cached_property
    def _older_pages_generation(self):
        """Under ``delete`` and ``update``, the generation naming every page but the first."""
        with self._waiting_for_cache():
            return current_generation(keys.OLDER_PAGES_GENERATION_KEY)

    def _version(self, page: PageRef):
        """The key version of a page's list and page entries (None: unversioned)."""
        if self.strategy == "version":
            return self._generation
        if self.strategy in ("delete", "update") and page != FIRST:
            return self._older_pages_generation
        return None

    def tasks(self, page: PageRef, load: Callable[[PageRef], dict]) -> dict:
        """One page of the list, newest first, as selectors.task_page gives it."""

        def read_from_database():
            started = time.monotonic()
            data = load(page)
            newest_shown.shown(data.get("version"), read_from_database_at=started)
            return data

        data = self._fetch(
            "query", keys.tasks_key(page), self._version(page), read_from_database, _is_task_page, _version_of_list
        )
        self._data_versions[page] = data.get("version")
        newest_shown.shown(data.get("version"))
        return data

    def page(self, page: PageRef, render: Callable[[], str]) -> bytes:
        def compute():
            body = render().encode()  # reads the list, and so learns its version
            return (self._data_versions.get(page), body)

        version, body = self._fetch(
            "page", keys.page_key(page), self._version(page), compute, _is_page, _version_of_page
        )
        newest_shown.shown(version)
        return body

    def replace_first_page(self, data: dict, render: Callable[[dict], str]) -> bool:
        """After a write (the ``update`` strategy): the first page's list and page entries replaced by
        ``data`` (the first page, read after the write's commit) and its page, unless the cache holds
        newer ones (a later write's). Returns whether no entry holds an older list.

        Readers never miss the first page after a write, and two writers cannot undo
        each other: the list's version (models.TaskCount) follows commit order. A reader's
        fill in progress is replaced, which voids its lease.
        """
        version = data["version"]
        at_least_as_new = _holds_at_least(version)
        replaced = True
        # The page first: most readers read only it, and a reader that finds the new list in the
        # query entry while the page still holds the old one must wait for the page (it is behind).
        if "page" in self.layers:
            body = render(data).encode()
            with self._waiting_for_cache():
                replaced = cache.set_unless(keys.page_key(FIRST), (version, body), at_least_as_new, self.ttl)
        with self._waiting_for_cache():
            if "query" in self.layers:
                replaced = cache.set_unless(keys.tasks_key(FIRST), data, at_least_as_new, self.ttl) and replaced
        # Only now: raised before the entries were stored, it would send this instance's readers of
        # the entries being replaced to the database.
        newest_shown.shown(version)
        return replaced

    def cached_page(self, page: PageRef) -> bytes | None:
        """The page entry if the cache holds it (a hit, counted), else None; nothing is filled.

        For the fast path (mc_tasklist/page_hits.py): on None the request goes the
        whole way through Django, which counts the miss and fills the entry.
        """
        if "page" not in self.layers or pending:
            return None  # The request goes through Django, which knows what to do then.
        version = self._version(page)
        if version is CACHE_UNAVAILABLE:
            return None
        value = self._get(keys.page_key(page), version, _is_page)
        if value is None or self._older_than_shown(value[0]):
            return None
        self.served["page"] = "hit"
        stats.record("page_hit")
        newest_shown.shown(value[0])
        return value[1]

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

    def _fetch(
        self,
        layer: str,
        key: str,
        version,
        compute: Callable,
        valid: Callable[[object], bool],
        version_of: Callable[[object], int | None],
    ):
        if layer not in self.layers:
            self.served[layer] = "off"
            return compute()
        if pending:
            # A server may still hold entries from before a change this process
            # could not get confirmed (see caching/pending.py).
            self.served[layer] = "unconfirmed"
            return compute()
        if version is CACHE_UNAVAILABLE:
            self.served[layer] = "unavailable"
            return compute()
        value = self._get(key, version, valid)
        if value is not None and self._older_than_shown(version_of(value)):
            # From before a write in flight, which a read of this instance has shown already. Its writer
            # stores the newer entries within milliseconds: wait for them, rather than read the database,
            # whose newest list would raise the floor past what the cache holds again, and again.
            value = self._caught_up(key, version, valid, version_of)
            if value is not None and self._older_than_shown(version_of(value)):
                self.served[layer] = "behind"
                stats.record(f"{layer}_miss")
                return self._read_past_the_cache(key, version, compute, valid, version_of)
        outcome = "miss" if value is None else "hit"  # An empty list is a hit too.
        self.served[layer] = outcome
        stats.record(f"{layer}_{outcome}")
        return value if value is not None else self._fill(key, version, compute, valid, version_of)

    def _caught_up(self, key: str, version, valid, version_of):
        """The entry once it is no older than what this instance showed or gone, else after CATCH_UP_SECONDS
        the older one."""
        deadline = time.monotonic() + CATCH_UP_SECONDS
        value = None
        while time.monotonic() < deadline:
            with self._waiting_for_cache():
                time.sleep(STAMPEDE_POLL_SECONDS)
            value = self._get(key, version, valid)
            if value is None or not self._older_than_shown(version_of(value)):
                return value  # caught up, or gone (then filled as any miss)
        return value

    def _read_past_the_cache(self, key: str, version, compute: Callable, valid, version_of):
        """The entry stayed older (its invalidation was lost, or the write is slow): read it anew."""
        if self.strategy == "update":
            # Stored over, as a writer stores the first page: only over an older one.
            return self._store_unless_newer(key, version, compute(), version_of)
        # Removed and filled under a lease, as any miss: a write may delete the entry meanwhile,
        # and the list read here must then not be stored after it.
        with self._waiting_for_cache():
            cache.delete(key, version=version)
        return self._fill(key, version, compute, valid, version_of)

    def _older_than_shown(self, version: int | None) -> bool:
        return self._never_back_in_time and newest_shown.is_newer_than(version)

    def _store_unless_newer(self, key: str, version, value, version_of: Callable[[object], int | None]):
        if (its_version := version_of(value)) is not None:
            with self._waiting_for_cache():
                cache.set_unless(key, value, _holds_at_least(its_version), self.ttl, version=version)
        return value

    def _get(self, key: str, version, valid: Callable[[object], bool]):
        """The entry, or None. One of the wrong shape is removed, so that it can be filled again.

        The cache returns only values this app signed (django-sasl-memcached's values.py),
        but a value copied from one key to another is still signed.
        """
        with self._waiting_for_cache():
            value = cache.get(key, version=version)
            if value is None or valid(value):
                return value
            logger.warning("cache entry %r has the wrong shape (%s); removed", key, type(value).__name__)
            cache.delete(key, version=version)
        return None

    def _fill(
        self,
        key: str,
        version,
        compute: Callable,
        valid: Callable[[object], bool],
        version_of: Callable[[object], int | None],
    ):
        """Compute a missing entry and store it, unless another process is already at it.

        Then wait for that process's value instead of computing it too: a burst
        of requests on a cold cache runs the expensive query once, not once each.
        """
        if self._stop_waiting_at is None:
            # One budget for the request: the page's fill and the list's fill inside it would otherwise each wait.
            self._stop_waiting_at = time.monotonic() + settings.TASKLIST_QUERY_DELAY + FILL_WAIT_MARGIN_SECONDS
        deadline = self._stop_waiting_at
        waited = False
        while True:
            with self._waiting_for_cache():
                lease = cache.lease(key, keys.lease_ttl(), version=version)
            if lease is CACHE_UNAVAILABLE or (lease is None and time.monotonic() > deadline):
                return compute()  # Nobody will fill it (cache down), or the filler is gone.
            if lease is not None:
                try:
                    value = compute()
                except BaseException:
                    # The database failed us: give the entry back at once, so that the
                    # readers waiting for it stop waiting now, not when their budget ends.
                    with self._waiting_for_cache():
                        cache.delete(key, version=version)
                    raise
                with self._waiting_for_cache():
                    cache.set_if_leased(key, lease, value, self.ttl, version=version)
                return value
            if not waited:
                waited = True
                stats.record("stampede_wait")
            with self._waiting_for_cache():
                time.sleep(STAMPEDE_POLL_SECONDS)
            value = self._get(key, version, valid)
            if value is not None and self._older_than_shown(version_of(value)):
                return compute()  # filled from a read older than one this instance has shown
            if value is not None:
                return value


def _holds_at_least(version: int) -> Callable[[object], bool]:
    """Whether a cached list or page entry holds the list of ``version`` or a newer one."""

    def at_least_as_new(current) -> bool:
        stored = _version_of_list(current) if isinstance(current, dict) else _version_of_page(current)
        return isinstance(stored, int) and stored >= version

    return at_least_as_new


def _version_of_list(value) -> int | None:
    return value.get("version") if isinstance(value, dict) else None


def _version_of_page(value) -> int | None:
    return value[0] if isinstance(value, tuple) and value else None


def _is_page(value) -> bool:
    """(version of the list it shows, or None; the page's HTML)."""
    return (
        isinstance(value, tuple)
        and len(value) == 2
        and (value[0] is None or isinstance(value[0], int))
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


def current_generation(key: str):
    """The generation stored under ``key`` (it names entries by their key's version), or CACHE_UNAVAILABLE."""
    generation = cache.get(key)
    if generation is not None and not isinstance(generation, int):
        cache.delete(key)
        generation = None
    if generation is None:
        # Random, not 1: after an eviction, counting again from 1 could name
        # entries written under an earlier 1.
        candidate = secrets.randbits(62)
        if cache.add(key, candidate, keys.GENERATION_TTL):
            return candidate
        generation = cache.get(key)
    return CACHE_UNAVAILABLE if generation is None else generation
