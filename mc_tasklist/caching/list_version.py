"""The list's versions this process trusts: read from the database at most once per window.

Read less than TASKLIST_VERSION_WINDOW before use (timed from before the query is sent, on this process's
monotonic clock), while every write answers a window after its commit (invalidation.py): so a read that
starts after a write's answer uses a version read after its commit, in any process. Without the database,
the newest versions a writer published in the cache before its answer, or else this process's newest.
"""

import logging
import threading
import time
from typing import NamedTuple

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, OperationalError

from mc_tasklist import connections, selectors
from mc_tasklist.caching import keys
from mc_tasklist.outages import OutageLog
from mc_tasklist.paging import FIRST, PageRef

logger = logging.getLogger(__name__)

# A read that takes longer is given up and the database treated as down (with the pool's 0.5 s wait when
# the held connection is replaced, under the 1 s a read may take in an outage).
READ_TIMEOUT_SECONDS = 0.15
# How long after a failed read this process asks the cache instead of the database.
DATABASE_RETRY_SECONDS = 1.0


class Versions(NamedTuple):
    list: int  # names the first page: moved by every write
    older_pages: int  # names every other page: moved by what can change them

    def of(self, page: PageRef) -> int:
        return self.list if page == FIRST else self.older_pages


class _Reading(NamedTuple):
    versions: Versions
    started: float  # time.monotonic() before the query was sent


class ListVersions:
    """The versions read last in this process, shared by its threads; one read in flight at a time."""

    def __init__(self):
        self._reading: _Reading | None = None
        self._lock = threading.Lock()
        self._retry_database_at = 0.0
        self._database_answered = True
        self._outage = OutageLog(logger, "reading the list's version")

    def current(self) -> Versions:
        asked = time.monotonic()
        reading = self._reading
        if reading is not None and asked - reading.started < settings.TASKLIST_VERSION_WINDOW:
            return reading.versions
        return self._read(asked)

    def learned(self, versions: Versions, started: float) -> None:
        """A read of the versions made elsewhere in this process (a writer's, after its commit)."""
        with self._lock:
            if self._reading is None or started > self._reading.started:
                self._reading = _Reading(versions, started)

    def forget(self) -> None:
        with self._lock:
            self._reading = None
            self._retry_database_at = 0.0
            self._database_answered = True

    def _read(self, asked: float) -> Versions:
        # While the database is down, one thread tries it again now and then, and the others do not wait for it.
        wait = READ_TIMEOUT_SECONDS if self._database_answered else 0
        if time.monotonic() < self._retry_database_at or not self._lock.acquire(timeout=wait):
            return self._without_database()
        try:
            reading = self._reading
            if reading is not None and asked - reading.started < settings.TASKLIST_VERSION_WINDOW:
                return reading.versions  # read by the thread this one waited for, after this one asked
            started = time.monotonic()
            try:
                with connections.query_timeout(READ_TIMEOUT_SECONDS):
                    versions = Versions(*selectors.list_versions())
            except DatabaseError as error:
                self._retry_database_at = time.monotonic() + DATABASE_RETRY_SECONDS
                self._database_answered = False
                self._outage.failed(error)
                return self._without_database()
            self._database_answered = True
            self._outage.succeeded()
            self._reading = _Reading(versions, started)
            return versions
        finally:
            self._lock.release()

    def _without_database(self) -> Versions:
        """The newest versions a writer published before its answer, or this process's newest.

        Not kept as a reading: a write that committed before this look may publish after it.
        """
        published = cache.get(keys.PUBLISHED_VERSIONS_KEY)
        known = [self._reading.versions] if self._reading is not None else []
        if isinstance(published, tuple) and len(published) == 2:
            known.append(Versions(*published))
        if not known:
            raise OperationalError("the list's version cannot be read, and no writer published one")
        return max(known)


def publish(versions: Versions) -> None:
    """Tell the cache the newest versions, for readers while the database does not answer; never older ones."""
    cache.set_unless(
        keys.PUBLISHED_VERSIONS_KEY,
        tuple(versions),
        lambda current: isinstance(current, tuple) and current >= tuple(versions),
        keys.PUBLISHED_VERSIONS_TTL,
    )


# One per process.
list_versions = ListVersions()
