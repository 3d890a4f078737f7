"""Names and keys of everything the task list caches, and how long each lives.

Pure functions: nothing here talks to the cache. Settings, stats, the
dashboard, the benchmark and the tests take the names from here.
"""

import functools
import hashlib

from django.conf import settings

LAYERS = ("page", "query", "fragment")
STRATEGIES = ("expire", "delete", "version", "update")

# Templates whose output the page and fragment entries hold.
BASE_TEMPLATE = "mc_tasklist/base.html"
PAGE_TEMPLATE = "mc_tasklist/index.html"
ROW_TEMPLATE = "mc_tasklist/_task_row.html"
STYLESHEET = "mc_tasklist/bootstrap.min.css"

TASKS_KEY = "tasklist:tasks:v2"
PAGE_KEY = "tasklist:page"
FRAGMENT_KEY = "tasklist:row"
GENERATION_KEY = "tasklist:generation"
DEEP_GENERATION_KEY = "tasklist:deep-generation"

# Under delete and update, a write deletes the list and page entries of the first pages by key;
# pages past these are named by a generation the write moves instead (DEEP_GENERATION_KEY).
# A write then costs the same at a hundred tasks as at a million, and a hit on the first
# pages, where nearly every visitor stays, is still one cache read.
PAGES_DELETED_BY_KEY = 20

# A fragment's key names its content, so it cannot go stale: it only needs to
# expire to free memory.
FRAGMENT_TTL = 24 * 60 * 60
# The generation outlives the entries it names; when it does expire, a new
# random one starts and the old entries are simply never read.
GENERATION_TTL = 24 * 60 * 60


def lease_ttl() -> int:
    # Long enough for the slowest fill; short enough that a worker killed
    # mid-fill blocks caching of that entry only briefly.
    return int(settings.TASKLIST_QUERY_DELAY) + 5


def entries_expire_within() -> int:
    """Seconds after which every list and page entry written until now is gone, filled or leased."""
    return max(settings.TASKLIST_CACHE_TTL, lease_ttl()) + 1


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


def tasks_key(number: int) -> str:
    # The page size is part of the key: changing it must not serve pages cut the old way.
    return f"{TASKS_KEY}:{settings.TASKLIST_PAGE_SIZE}:{number}"


def page_key(number: int) -> str:
    return f"{PAGE_KEY}:{render_version()}:{settings.TASKLIST_PAGE_SIZE}:{number}"


def list_keys(pages: int) -> list[str]:
    """The list and page entries a write deletes by key: of pages 1 to ``pages``, at most PAGES_DELETED_BY_KEY."""
    return [
        key
        for number in range(1, min(pages, PAGES_DELETED_BY_KEY) + 1)
        for key in (tasks_key(number), page_key(number))
    ]


def fragment_key(task: dict) -> str:
    # The name is user input: hashed, it cannot break or lengthen the key.
    content = "\0".join([str(task["id"]), task["name"], task["created_at"].isoformat(), render_version()])
    return f"{FRAGMENT_KEY}:{task['id']}:{hashlib.blake2b(content.encode(), digest_size=10).hexdigest()}"


WRITE_LIMIT_KEY = "tasklist:writes"
WRITE_LIMIT_WINDOW_SECONDS = 60


def write_limit_key(client: str, window: int) -> str:
    """The count of one client's anonymous writes in one window (client: an IP address)."""
    return f"{WRITE_LIMIT_KEY}:{window}:{client.replace(':', '_')}"
