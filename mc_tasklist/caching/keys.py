"""Names and keys of everything the task list caches, and how long each lives.

Pure functions: nothing here talks to the cache. Settings, stats, the
dashboard, the benchmark and the tests take the names from here.
"""

import functools
import hashlib

from django.conf import settings

from mc_tasklist.paging import FIRST, PageRef

LAYERS = ("page", "query", "fragment")
STRATEGIES = ("expire", "delete", "version", "update")

# Templates whose output the page and fragment entries hold.
BASE_TEMPLATE = "mc_tasklist/base.html"
PAGE_TEMPLATE = "mc_tasklist/index.html"
ROW_TEMPLATE = "mc_tasklist/_task_row.html"
STYLESHEET = "mc_tasklist/bootstrap.min.css"

TASKS_KEY = "tasklist:tasks:v3"
PAGE_KEY = "tasklist:page:v3"
FRAGMENT_KEY = "tasklist:row"
GENERATION_KEY = "tasklist:generation"
# Under delete and update, a write deletes the first page's entries by key; the older pages
# (anchored at a task: mc_tasklist/paging.py) are named by this generation, which only a
# delete or a rename moves. An add changes the first page alone.
OLDER_PAGES_GENERATION_KEY = "tasklist:older-pages-generation"

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


def tasks_key(page: PageRef = FIRST) -> str:
    # The page size is part of the key: changing it must not serve pages cut the old way.
    return f"{TASKS_KEY}:{settings.TASKLIST_PAGE_SIZE}:{page.key}"


def page_key(page: PageRef = FIRST) -> str:
    return f"{PAGE_KEY}:{render_version()}:{settings.TASKLIST_PAGE_SIZE}:{page.key}"


def first_page_keys() -> list[str]:
    """The list and page entries every write deletes by key."""
    return [tasks_key(FIRST), page_key(FIRST)]


def fragment_key(task: dict) -> str:
    # The name is user input: hashed, it cannot break or lengthen the key.
    content = "\0".join([str(task["id"]), task["name"], task["created_at"].isoformat(), render_version()])
    return f"{FRAGMENT_KEY}:{task['id']}:{hashlib.blake2b(content.encode(), digest_size=10).hexdigest()}"


WRITE_LIMIT_KEY = "tasklist:writes"
WRITE_LIMIT_WINDOW_SECONDS = 60


def write_limit_key(client: str, window: int) -> str:
    """The count of one client's anonymous writes in one window (client: an IP address)."""
    return f"{WRITE_LIMIT_KEY}:{window}:{client.replace(':', '_')}"
