"""Each process applies the invalidations that another process's write could not get confirmed.

A write's change is announced at its commit ("new", caching/channel.py) and
retracted once the cache confirmed it ("done"). A writer that could not get it
confirmed says so ("unconfirmed"): the change is then held pending here at once,
this process answers "held", and the change is applied at once. A change still
unconfirmed ``GRACE_SECONDS`` after its announcement, with no word from its
writer, is applied here too: the writer died between its commit and its
invalidation. Whichever process can reach the cache repairs it, well within a
second of the commit.

Two threads, so that a hung cache server never delays the word: the one that
listens only changes what this process knows and answers at once; the one that
repairs tries the cache, and may wait up to its timeout each time (0.2 s). When
one thread did both, a writer's "unconfirmed" could wait behind a repair stuck
on a frozen server, and the writer acknowledged its write, at its 0.3 s bound,
to a process that still read the entries from before it.

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
    """Two threads: one listens, and only changes what this process knows (never waits for a cache);
    one repairs the cache, and may wait up to a server's timeout for each thing it tries."""

    def __init__(self, refresh: Refresh | None = None):
        # Under update, a change is applied as its writer would have: the first page stored anew
        # rather than deleted, so a writer that confirms late costs readers no miss.
        self.refresh = refresh
        self._news = threading.Condition()  # guards the two below; notified when there is work
        self._waiting: dict[int, tuple[float, bool]] = {}  # id -> (due, older pages too)
        self._asked: dict[int, bool] = {}  # changes their writer could not confirm: applied at once
        self.outage = OutageLog(logger, "watching for unconfirmed invalidations")
        self.stopped = threading.Event()

    def run_forever(self) -> None:
        """Listen (this thread) and repair (a second one) until stopped."""
        threading.Thread(target=self.repair_forever, name="tasklist-cache-repairs", daemon=True).start()
        while not self.stopped.is_set():
            try:
                self._watch()
            except (psycopg.OperationalError, DatabaseError) as error:  # a database restart, say
                self.outage.failed(error)
            except Exception:  # The thread must outlive any one failure.
                logger.exception("watching for unconfirmed invalidations failed; reconnecting in 1 s")
            finally:
                close_old_connections()  # the catch-up's connection, as at the end of a request
            self.stopped.wait(1)

    def _watch(self) -> None:
        # Its own connection, opened as Django opens the default one (same settings and options).
        params = {**connection.get_connection_params(), "application_name": channel.WATCHER_NAME}
        with psycopg.connect(**params, autocommit=True) as listener:
            listener.execute(f"LISTEN {channel.CHANNEL}")
            self._catch_up(listener)
            self.outage.succeeded()
            channel.listening.set()
            try:
                self._listen(listener)
            finally:
                channel.listening.clear()

    def _listen(self, listener) -> None:
        next_catch_up = time.monotonic() + CATCH_UP_SECONDS
        while not self.stopped.is_set():
            # Taken out before answering: psycopg keeps the connection to itself while it yields them.
            for notification in list(listener.notifies(timeout=IDLE_SECONDS, stop_after=1)):
                if held := self.heard(notification.payload, sender=notification.pid):
                    channel.say_held(listener, held)
            if time.monotonic() >= next_catch_up:
                try:
                    self._catch_up(listener)
                finally:
                    close_old_connections()
                next_catch_up = time.monotonic() + CATCH_UP_SECONDS

    def heard(self, payload: str, *, sender: int = 0) -> dict[int, bool]:
        """Take in one message (``sender``: the server process of the connection that sent it); returns
        the changes this process now holds pending at a writer's word."""
        kind, changes = channel.parse(payload)
        with self._news:
            if kind == "new":
                for change_id, older_pages in changes.items():
                    self._waiting[change_id] = (time.monotonic() + GRACE_SECONDS, older_pages)
            elif kind == "unconfirmed":
                # Before anything else: from now on this process reads none of the entries they name.
                hold_pending(changes)
                self._asked.update(changes)
            elif kind == "held":
                pending.held_elsewhere(changes, by=sender)
            elif kind == "done":
                # Another process brought every server up to these changes: nothing of them is left anywhere.
                for change_id in changes:
                    self._waiting.pop(change_id, None)
                    self._asked.pop(change_id, None)
                pending.discard(changes)
            self._news.notify()
        return changes if kind == "unconfirmed" else {}

    def repair_forever(self) -> None:
        while not self.stopped.is_set():
            with self._news:
                if not self._asked and (wait := self._next_due()) > 0:
                    self._news.wait(wait)  # woken by every message: the next due time may be sooner
            try:
                self.answer()
                self.apply_due()
                retry_pending(self.refresh)
            except Exception:  # The thread must outlive any one failure; what failed stays pending.
                logger.exception("repairing the cache failed; trying again")
                self.stopped.wait(1)
            finally:
                # This thread's Django connection back to the worker's pool, as at the end of a request.
                close_old_connections()

    def _next_due(self) -> float:
        """Seconds until the next change is due (at most IDLE_SECONDS: what is pending is retried then)."""
        due = min((due for due, _ in self._waiting.values()), default=time.monotonic() + IDLE_SECONDS)
        return max(0.0, min(due - time.monotonic(), IDLE_SECONDS))

    def answer(self) -> None:
        """Apply what writers could not confirm (held pending here until it is confirmed)."""
        with self._news:
            asked, self._asked = self._asked, {}
            for change_id in asked:
                self._waiting.pop(change_id, None)
        if asked:
            settle(asked, self.refresh)

    def apply_due(self) -> None:
        now = time.monotonic()
        with self._news:
            due = {change_id: older for change_id, (at, older) in self._waiting.items() if at <= now}
            for change_id in due:
                del self._waiting[change_id]
        if due:
            logger.debug("applying invalidations %s that no cache server confirmed", sorted(due))
            settle(due, self.refresh)

    def _catch_up(self, listener) -> None:
        """Changes announced while this process was not listening (it started, or reconnected)."""
        expired = timezone.now() - timedelta(seconds=keys.entries_expire_within())
        # Their entries have expired by now: nothing is left to invalidate.
        UnconfirmedInvalidation.objects.filter(created_at__lt=expired).delete()
        unconfirmed = dict(UnconfirmedInvalidation.objects.values_list("id", "older_pages"))
        # Held pending at once: this process may have missed the word that their writer gave up,
        # and that writer may be waiting to hear that it holds them.
        hold_pending(unconfirmed)
        with self._news:
            for change_id, older_pages in unconfirmed.items():
                self._waiting.setdefault(change_id, (time.monotonic() + GRACE_SECONDS, older_pages))
            self._news.notify()
        if unconfirmed:
            channel.say_held(listener, unconfirmed)


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
