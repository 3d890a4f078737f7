"""The task list's caching policy: every key, timeout, layer and invalidation rule.

Three layers nest like the tutorial's Russian dolls; each can be switched off
with TASKLIST_CACHE_LAYERS:

* ``query``: the task list as plain values, under one key;
* ``fragment``: each task's rendered row, under a key made from the task's
  content, so a changed task or a reused id can never show an old row;
* ``page``: the whole list page, rendered without any visitor's CSRF token
  (see rendering.py), so one entry serves every visitor.

When the page entry is gone, the page is rebuilt from the cached query and
fragments. TASKLIST_INVALIDATION picks how writes keep ``query`` and ``page``
fresh (fragments never need it):

* ``expire``: nothing; entries live TASKLIST_CACHE_TTL seconds, so a change
  shows up at the latest that long after it was made;
* ``delete`` (default): a write deletes the entries after it commits;
* ``version``: a write increments a generation number that is part of every
  key, so old entries are never read again and age out;
* ``update``: a write deletes the entries and stores the new list at once.

Correctness across processes rests on two rules. Invalidation runs after the
database commit. And an entry is filled under a lease (a placeholder added
with memcached's ``add``, replaced with ``cas``): a write that deletes the
entry while a reader is still querying the database voids that reader's lease,
so the reader's list, possibly older than the write, is never stored.
An invalidation that cannot reach its server (down, hung, cut off) is kept
and retried by every later request in the process, until the server confirms
it: a server that comes back holding its old entries has them removed as soon
as this process can reach it again. And every entry has a TTL, so even an
invalidation that is never retried (the process ended) is repaired after
TASKLIST_CACHE_TTL seconds.
"""

import functools
import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager

from django.conf import settings
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.cache import cache
from django.template.loader import get_template
from django.utils.functional import cached_property

from django_tasklist.cache_backends import CACHE_UNAVAILABLE
from mc_tasklist import stats
from mc_tasklist.selectors import task_count, task_page

TASKS_KEY = "tasklist:tasks:v2"
PAGE_KEY = "tasklist:page"
FRAGMENT_KEY = "tasklist:row"
GENERATION_KEY = "tasklist:generation"

# Templates whose output the page and fragment entries hold.
BASE_TEMPLATE = "mc_tasklist/base.html"
PAGE_TEMPLATE = "mc_tasklist/index.html"
ROW_TEMPLATE = "mc_tasklist/_task_row.html"

# A fragment's key names its content, so it cannot go stale: it only needs to
# expire to free memory.
FRAGMENT_TTL = 24 * 60 * 60
# The generation outlives the entries it names; when it does expire, a new
# random one starts and the old entries are simply never read.
GENERATION_TTL = 24 * 60 * 60

_UNKNOWN = object()
# How often a request waiting for another process's fill looks for the value.
STAMPEDE_POLL_SECONDS = 0.02


def _lease_ttl() -> int:
    # Long enough for the slowest fill; short enough that a worker killed
    # mid-fill blocks caching of that entry only briefly.
    return int(settings.TASKLIST_QUERY_DELAY) + 5


@functools.cache
def render_version() -> str:
    """A digest of what rendered HTML depends on besides the data.

    Part of the page and fragment keys, so a deploy that changes a template
    or a static file's hashed name never serves HTML rendered by the old code.
    """
    sources = [get_template(name).template.source for name in (BASE_TEMPLATE, PAGE_TEMPLATE, ROW_TEMPLATE)]
    sources.append(staticfiles_storage.url("mc_tasklist/bootstrap.min.css"))
    return hashlib.blake2b("\0".join(sources).encode(), digest_size=6).hexdigest()


def tasks_key(number: int) -> str:
    # The page size is part of the key: changing it must not serve pages cut the old way.
    return f"{TASKS_KEY}:{settings.TASKLIST_PAGE_SIZE}:{number}"


def page_key(number: int) -> str:
    return f"{PAGE_KEY}:{render_version()}:{settings.TASKLIST_PAGE_SIZE}:{number}"


def page_count(task_count: int) -> int:
    return max(1, -(-task_count // settings.TASKLIST_PAGE_SIZE))


def fragment_key(task: dict) -> str:
    # The name is user input: hashed, it cannot break or lengthen the key.
    content = "\0".join([str(task["id"]), task["name"], task["created_at"].isoformat(), render_version()])
    return f"{FRAGMENT_KEY}:{task['id']}:{hashlib.blake2b(content.encode(), digest_size=10).hexdigest()}"


class TaskListCache:
    """The cached pieces of the task list page, for one request.

    ``served`` records how each layer answered (hit, miss, off) and
    ``cache_seconds`` the time spent waiting for the cache, for the response's
    X-Cache header and the request log line.
    """

    def __init__(self):
        retry_unconfirmed_invalidations()
        self.layers = settings.TASKLIST_CACHE_LAYERS
        self.strategy = settings.TASKLIST_INVALIDATION
        self.ttl = settings.TASKLIST_CACHE_TTL
        self.served: dict[str, str] = {}
        self.cache_seconds = 0.0

    @contextmanager
    def _waiting_for_cache(self):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.cache_seconds += time.perf_counter() - start

    @cached_property
    def _version(self):
        """The key version for query and page entries; read once per request."""
        if self.strategy != "version":
            return None
        with self._waiting_for_cache():
            return _current_generation()

    def tasks(self, number: int, load: Callable[[int], dict]) -> dict:
        """One page of the list, newest first: {"tasks": [...], "count": all tasks}."""
        return self._fetch("query", tasks_key(number), lambda: load(number))

    def page(self, number: int, render: Callable[[], str]) -> bytes:
        return self._fetch("page", page_key(number), lambda: render().encode())

    def rows(self, tasks: list[dict], render_row: Callable[[dict], str]) -> list[str]:
        """Each task's rendered row, from the cache where it has one."""
        if "fragment" not in self.layers:
            self.served["fragments"] = "off"
            return [render_row(task) for task in tasks]
        keys = [fragment_key(task) for task in tasks]
        with self._waiting_for_cache():
            found = cache.get_many(keys) if keys else {}
        self.served["fragments"] = f"{len(found)}/{len(keys)}"
        stats.record("fragment_hit", len(found))
        rendered = {key: render_row(task) for key, task in zip(keys, tasks, strict=True) if key not in found}
        if rendered:
            stats.record("fragment_miss", len(rendered))
            with self._waiting_for_cache():
                cache.set_many(rendered, FRAGMENT_TTL)
        return [found[key] if key in found else rendered[key] for key in keys]

    def _fetch(self, layer: str, key: str, compute: Callable):
        if layer not in self.layers or self._version is _UNKNOWN:
            self.served[layer] = "off" if layer not in self.layers else "unavailable"
            return compute()
        with self._waiting_for_cache():
            value = cache.get(key, version=self._version)
        outcome = "miss" if value is None else "hit"  # An empty list is a hit too.
        self.served[layer] = outcome
        stats.record(f"{layer}_{outcome}")
        return value if value is not None else self._fill(key, compute)

    def _fill(self, key: str, compute: Callable):
        """Compute a missing entry and store it, unless another process is already at it.

        Then wait for that process's value instead of computing it too: a burst
        of requests on a cold cache runs the expensive query once, not once each.
        """
        deadline = time.monotonic() + _lease_ttl()
        waited = False
        while True:
            with self._waiting_for_cache():
                lease = cache.lease(key, _lease_ttl(), version=self._version)
            if lease is CACHE_UNAVAILABLE or (lease is None and time.monotonic() > deadline):
                return compute()  # Nobody will fill it (cache down), or the filler died.
            if lease is not None:
                value = compute()
                with self._waiting_for_cache():
                    cache.set_if_leased(key, lease, value, self.ttl, version=self._version)
                return value
            if not waited:
                waited = True
                stats.record("stampede_wait")
            with self._waiting_for_cache():
                time.sleep(STAMPEDE_POLL_SECONDS)
                value = cache.get(key, version=self._version)
            if value is not None:
                return value


def task_list_changed(*, removed: int = 0) -> None:
    """Keep the cache fresh after a committed write, as TASKLIST_INVALIDATION says.

    ``removed`` is how many tasks the write deleted, so that every page that
    existed before it is invalidated too.
    """
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
    pages = range(1, page_count(task_count() + removed) + 1)
    _invalidate([key for number in pages for key in (tasks_key(number), page_key(number))])
    if strategy == "update" and "query" in settings.TASKLIST_CACHE_LAYERS:
        # Only the first page's list is stored again; pages are left to the next
        # reader, who rebuilds them from this list and the cached rows.
        TaskListCache()._fill(tasks_key(1), lambda: task_page(1))


def _current_generation():
    generation = cache.get(GENERATION_KEY)
    if generation is None:
        # Random, not 1: after an eviction, counting again from 1 could name
        # entries written under an earlier 1.
        candidate = secrets.randbits(62)
        if cache.add(GENERATION_KEY, candidate, GENERATION_TTL):
            return candidate
        generation = cache.get(GENERATION_KEY)
    return _UNKNOWN if generation is None else generation


def _next_generation() -> None:
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:
        # No generation (evicted), or the server did not answer. Deleting it
        # does what the increment would: readers start a new random one, which
        # names no old entry. If the server is unreachable, the delete is retried.
        _invalidate([GENERATION_KEY])


# Keys whose invalidation no server has confirmed, and when their entries will
# have expired anyway (after which there is nothing left to remove).
_unconfirmed: dict[str, float] = {}
_unconfirmed_lock = threading.Lock()


def _invalidate(keys: list[str]) -> None:
    # Past this time the entries have expired, so the keys need no retry.
    expired_by = time.monotonic() + max(settings.TASKLIST_CACHE_TTL, _lease_ttl()) + 1
    _delete_or_remember(dict.fromkeys(keys, expired_by))


def _delete_or_remember(keys: dict[str, float]) -> None:
    unreached = cache.delete_many_unreached(list(keys))
    if unreached:
        with _unconfirmed_lock:
            for key in unreached:
                _unconfirmed[key] = max(keys[key], _unconfirmed.get(key, 0))


def retry_unconfirmed_invalidations() -> None:
    if not _unconfirmed:  # Nearly always: then this costs nothing.
        return
    now = time.monotonic()
    with _unconfirmed_lock:
        pending = {key: expired_by for key, expired_by in _unconfirmed.items() if expired_by > now}
        _unconfirmed.clear()
    if pending:
        _delete_or_remember(pending)


def forget_unconfirmed_invalidations() -> None:
    """After the cache was emptied there is nothing left to invalidate."""
    with _unconfirmed_lock:
        _unconfirmed.clear()
