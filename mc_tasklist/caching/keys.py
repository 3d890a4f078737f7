"""Names and keys of everything the task list caches, and how long each lives.

Pure functions: nothing here talks to the cache. Settings, stats, the
dashboard, the benchmark and the tests take the names from here.
"""

import functools
import hashlib

from django.conf import settings

from mc_tasklist.paging import FIRST, PageRef

LAYERS = ("page", "query", "fragment")
# What the dashboard and /metrics count hits and misses of: each process's copy of the pages it served
# (a miss there reads the page layer), then the layers in memcached.
COUNTED_LAYERS = ("process", *LAYERS)
STRATEGIES = ("expire", "delete", "version", "update")

# Templates whose output the page and fragment entries hold.
BASE_TEMPLATE = "mc_tasklist/base.html"
PAGE_TEMPLATE = "mc_tasklist/index.html"
ROW_TEMPLATE = "mc_tasklist/_task_row.html"
STYLESHEET = "mc_tasklist/bootstrap.min.css"

TASKS_KEY = "tasklist:tasks:v4"
PAGE_KEY = "tasklist:page:v4"
FRAGMENT_KEY = "tasklist:row"
# The newest list versions a writer has stored, read when the database cannot be (list_version.py).
PUBLISHED_VERSIONS_KEY = "tasklist:published-versions"

# A fragment's key names its content, so it cannot go stale: it only needs to
# expire to free memory.
FRAGMENT_TTL = 24 * 60 * 60
PUBLISHED_VERSIONS_TTL = 24 * 60 * 60


def lease_ttl() -> int:
    # Long enough for the slowest fill; short enough that a worker killed
    # mid-fill blocks caching of that entry only briefly.
    return int(settings.TASKLIST_QUERY_DELAY) + 5


@functools.cache
def render_version() -> str:
    """A digest of what rendered HTML depends on besides the data.

    Part of the page and fragment keys, so a deploy that changes a template
    or a static file's hashed name never serves HTML rendered by the old code.
    """
    from django.contrib.staticfiles.storage import staticfiles_storage
    from django.template.loader import get_template

    sources = [get_template(name).template.source for name in (BASE_TEMPLATE, PAGE_TEMPLATE, ROW_TEMPLATE)]
    sources.append(staticfiles_storage.url(STYLESHEET))
    return hashlib.blake2b("\0".join(sources).encode(), digest_size=6).hexdigest()


def tasks_key(page: PageRef = FIRST, version: int | None = None) -> str:
    # The page size is part of the key: changing it must not serve pages cut the old way.
    return f"{TASKS_KEY}:{settings.TASKLIST_PAGE_SIZE}:{page.key}{_named(version)}"


def page_key(page: PageRef = FIRST, version: int | None = None) -> str:
    return f"{PAGE_KEY}:{render_version()}:{settings.TASKLIST_PAGE_SIZE}:{page.key}{_named(version)}"


def _named(version: int | None) -> str:
    """The version a key is for (None: an entry judged by its stamp, or under ``expire`` by its TTL alone)."""
    return "" if version is None else f":@{version}"


def fragment_key(task: dict) -> str:
    # The name is user input: hashed, it cannot break or lengthen the key.
    content = "\0".join([str(task["id"]), task["name"], task["created_at"].isoformat(), render_version()])
    return f"{FRAGMENT_KEY}:{task['id']}:{hashlib.blake2b(content.encode(), digest_size=10).hexdigest()}"


WRITE_LIMIT_KEY = "tasklist:writes"
WRITE_LIMIT_WINDOW_SECONDS = 60


def write_limit_key(client: str, window: int) -> str:
    """The count of one client's anonymous writes in one window (client: an IP address)."""
    return f"{WRITE_LIMIT_KEY}:{window}:{client.replace(':', '_')}"
