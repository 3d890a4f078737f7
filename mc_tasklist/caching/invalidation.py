"""What a write does once it commits, as TASKLIST_INVALIDATION says, and why it answers a window later.

Correctness does not depend on any of it reaching the cache: every entry is
served only for the version the database held less than TASKLIST_VERSION_WINDOW
ago (list_version.py), and every write answers no sooner than that window after
its commit. What each strategy changes is who pays for the new version's page:

* ``expire``: nothing; entries live TASKLIST_CACHE_TTL (the tutorial's lag);
* ``delete``: the writer deletes the first page's entries; the next reader fills them;
* ``version``: nothing: the new version names new keys; the next reader fills them;
* ``update`` (the default): the writer stores the new version's first page, so no reader misses it.

The writer also publishes the new versions in the cache: while the database
does not answer, readers take them from there (list_version.py).
"""

import logging
import time
from collections.abc import Callable
from functools import partial

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, transaction

from mc_tasklist import connections, selectors, stats
from mc_tasklist.caching import keys, list_version
from mc_tasklist.caching.local_copies import recent_rows, served_pages
from mc_tasklist.paging import FIRST

logger = logging.getLogger(__name__)

# What a write under ``update`` calls after its commit to store the first page anew (list_page.py
# passes it in, so that this module renders nothing).
Refresh = Callable[[], None]


def list_changed(*, refresh: Refresh | None = None) -> None:
    """Called by every write to the tasks, in its transaction: the cache's part runs once it commits.

    After the commit, because a reader could otherwise store the list from before the write.
    """
    transaction.on_commit(partial(_after_commit, refresh))


def _after_commit(refresh: Refresh | None) -> None:
    committed = time.monotonic()
    if settings.TASKLIST_INVALIDATION == "expire":
        return  # No version is read: entries live out their TTL, the documented lag.
    stats.record("invalidation")
    try:
        _bring_cache_forward(refresh)
    except DatabaseError as error:
        # The database went away between the commit and the read of its version: unpublished, the write
        # might not be shown while it is away, so it is not acknowledged either (the 503 page; it stands).
        logger.warning("a write committed, but the list could not be read back: %s", error)
        raise
    finally:
        connections.give_back()  # not held through the wait
    # The commit wait: a read that starts after this write's answer trusts no version read before its commit.
    time.sleep(max(0.0, committed + settings.TASKLIST_VERSION_WINDOW - time.monotonic()))


def _bring_cache_forward(refresh: Refresh | None) -> None:
    started = time.monotonic()
    versions = list_version.Versions(*selectors.list_versions())
    list_version.list_versions.learned(versions, started)
    if settings.TASKLIST_INVALIDATION == "delete":
        cache.delete_many([keys.tasks_key(FIRST), keys.page_key(FIRST)])
    elif settings.TASKLIST_INVALIDATION == "update" and refresh is not None:
        refresh()
    list_version.publish(versions)


def cache_flushed() -> None:
    """Empty the whole cache, and what this process keeps of it."""
    cache.clear()
    recent_rows.clear()
    served_pages.clear()
    list_version.list_versions.forget()
