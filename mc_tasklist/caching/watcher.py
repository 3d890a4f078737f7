"""Each process applies the invalidations that another process's write could not get confirmed.

A write's change is announced at its commit ("new", caching/channel.py) and
retracted once the cache confirmed it ("done"). A writer that could not get it
confirmed says so ("unconfirmed"): the change is then held pending here at once
and applied at once, and if this process cannot reach the cache either it
answers "unreachable". A change still unconfirmed ``GRACE_SECONDS`` after its
announcement, with no word from its writer, is applied here too: the writer
died between its commit and its invalidation. Whichever process can reach the
cache repairs it, well within a second of the commit.

LISTEN costs no query while nothing happens: the thread sleeps on its own
connection until PostgreSQL sends a notification. It reads the outbox only when
it (re)connects and every ``CATCH_UP_SECONDS``, in case a notification was lost
with a connection.
"""

import logging
import threading
import time
from datetime import timedelta

import psycopg
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone

from mc_tasklist.caching import channel, keys
from mc_tasklist.caching.invalidation import Refresh, hold_pending, retry_pending, settle
from mc_tasklist.caching.pending import pending
from mc_tasklist.models import UnconfirmedInvalidation
from mc_tasklist.outages import OutageLog

logger = logging.getLogger(__name__)

# How long the writer has to confirm its own change before the others apply it:
# longer than its cache round trip (at most the backend's 0.2 s socket timeout),
# short enough that the repair lands well within a second of the commit.
GRACE_SECONDS = 0.25
CATCH_UP_SECONDS = 30
# How often the thread wakes without news, to retry what it could not apply.
IDLE_SECONDS = 1.0


class InvalidationWatcher:
    def __init__(self, refresh: Refresh | None = None):
        # Under update, a change is applied as its writer would have: the first page stored anew
        # rather than deleted, so a writer that confirms late costs readers no miss.
        self.refresh = refresh
        self._waiting: dict[int, tuple[float, bool]] = {}  # id -> (due, older pages too)
        self._asked: dict[int, bool] = {}  # changes their writer could not confirm: applied at once
        self.outage = OutageLog(logger, "watching for unconfirmed invalidations")
        self.stopped = threading.Event()

    def run_forever(self) -> None:
        while not self.stopped.is_set():
            try:
                self._watch()
            except (psycopg.OperationalError, DatabaseError) as error:  # a database restart, say
                self.outage.failed(error)
            except Exception:  # The thread must outlive any one failure.
                logger.exception("watching for unconfirmed invalidations failed; reconnecting in 1 s")
            self.stopped.wait(1)

    def _watch(self) -> None:
        # Its own connection, opened as Django opens the default one (same settings and options).
        params = {**connection.get_connection_params(), "application_name": channel.WATCHER_NAME}
        with psycopg.connect(**params, autocommit=True) as listener:
            listener.execute(f"LISTEN {channel.CHANNEL}")
            self._catch_up()
            self.outage.succeeded()
            channel.listening.set()
            try:
                self._listen(listener)
            finally:
                channel.listening.clear()

    def _listen(self, listener) -> None:
        next_catch_up = time.monotonic() + CATCH_UP_SECONDS
        while not self.stopped.is_set():
            now = time.monotonic()
            due = min((due for due, _ in self._waiting.values()), default=now + IDLE_SECONDS)
            # One notification at a time, so that the next due time is recomputed after each.
            for notification in listener.notifies(timeout=max(0.0, min(due, now + IDLE_SECONDS) - now), stop_after=1):
                self.heard(notification.payload)
            try:
                self.answer()
                self.apply_due()
                retry_pending()
                if time.monotonic() >= next_catch_up:
                    self._catch_up()
                    next_catch_up = time.monotonic() + CATCH_UP_SECONDS
            finally:
                # This thread's Django connection back to the worker's pool (or closed, or dropped
                # after a database restart), as at the end of a request: not held while it listens.
                close_old_connections()

    def heard(self, payload: str) -> None:
        kind, changes = channel.parse(payload)
        if kind == "new":
            for change_id, older_pages in changes.items():
                self._waiting[change_id] = (time.monotonic() + GRACE_SECONDS, older_pages)
        elif kind == "unconfirmed":
            # Before anything else: from now on this process reads none of the entries they name.
            hold_pending(changes)
            self._asked.update(changes)
        elif kind == "unreachable":
            pending.unreachable_from(changes)
        elif kind == "done":
            # Another process brought every server up to these changes: nothing of them is left anywhere.
            for change_id in changes:
                self._waiting.pop(change_id, None)
                self._asked.pop(change_id, None)
            pending.discard(changes)

    def answer(self) -> None:
        """Apply what writers could not confirm; say so if this process cannot reach the cache either."""
        asked, self._asked = self._asked, {}
        for change_id in asked:
            self._waiting.pop(change_id, None)
        if asked and not settle(asked, self.refresh):
            channel.say_unreachable(asked)

    def apply_due(self) -> None:
        now = time.monotonic()
        due = {change_id: older for change_id, (at, older) in self._waiting.items() if at <= now}
        for change_id in due:
            del self._waiting[change_id]
        if due:
            logger.debug("applying invalidations %s that no cache server confirmed", sorted(due))
            settle(due, self.refresh)

    def _catch_up(self) -> None:
        """Changes announced while this process was not listening (it started, or reconnected)."""
        expired = timezone.now() - timedelta(seconds=keys.entries_expire_within())
        # Their entries have expired by now: nothing is left to invalidate.
        UnconfirmedInvalidation.objects.filter(created_at__lt=expired).delete()
        unconfirmed = dict(UnconfirmedInvalidation.objects.values_list("id", "older_pages"))
        # Held pending at once: this process may have missed the word that their writer gave up.
        hold_pending(unconfirmed)
        for change_id, older_pages in unconfirmed.items():
            self._waiting.setdefault(change_id, (time.monotonic() + GRACE_SECONDS, older_pages))


def start(refresh: Refresh | None = None) -> None:
    """Watch from a background thread of this process, where watching can help.

    Not for ``expire`` (nothing is invalidated), not without PostgreSQL (no
    LISTEN; in development one process is the whole world), and not when
    TASKLIST_INVALIDATION_WATCH is off (a pooler in transaction mode, such as
    PgBouncer's, cannot LISTEN).
    """
    if settings.TASKLIST_INVALIDATION == "expire" or not settings.TASKLIST_INVALIDATION_WATCH:
        return
    if connection.vendor != "postgresql":
        return
    watcher = InvalidationWatcher(refresh)
    threading.Thread(target=watcher.run_forever, name="tasklist-invalidations", daemon=True).start()
