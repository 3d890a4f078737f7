"""The invalidations this process could not get confirmed, and what they mean for its reads.

While a change is pending here, some cache server may still hold list or page
entries from before it, and this process could reach that server again at any
moment (its back-off ends, a node returns). So until the change is confirmed,
by this process or another, this process reads no list or page from the cache
(caching/read_through.py): it serves them from the database, as when the cache
is down. Each entry lasts at most until the entries it names have expired.

A change is pending in the process that wrote it and, once the writer says it
could not confirm it (caching/channel.py), in every other process too.
"""

import threading
import time


class PendingInvalidations:
    def __init__(self):
        self._changes: dict[int, tuple[bool, float]] = {}  # id -> (older pages too, expired by)
        # id -> the processes that said they hold it pending too (caching/channel.py), by their
        # listening connection's server process: a set, as one may say it twice (on hearing, on catching up)
        self._held_by: dict[int, set[int]] = {}
        self._changed = threading.Condition()

    def __bool__(self) -> bool:
        """Whether any change is held (expired ones are not: their entries are gone); changes nothing."""
        if not self._changes:  # Nearly always: then this costs nothing.
            return False
        now = time.monotonic()
        return any(expired_by > now for _, expired_by in list(self._changes.values()))

    def add(self, changes: dict[int, bool], *, expired_by: float) -> None:
        with self._changed:
            for change_id, older_pages in changes.items():
                self._changes.setdefault(change_id, (older_pages, expired_by))

    def discard(self, change_ids) -> None:
        with self._changed:
            for change_id in change_ids:
                self._changes.pop(change_id, None)
                self._held_by.pop(change_id, None)
            self._changed.notify_all()

    def held_elsewhere(self, change_ids, *, by: int) -> None:
        """The process listening on connection ``by`` said it holds these changes pending."""
        with self._changed:
            for change_id in change_ids:
                if change_id in self._changes:
                    self._held_by.setdefault(change_id, set()).add(by)
            self._changed.notify_all()

    def wait_until_answered(self, change_ids, *, processes: int, timeout: float) -> bool:
        """Wait until each change is confirmed, or ``processes`` processes said they hold it pending.
        Returns whether every change was confirmed."""

        def answered() -> bool:
            return all(
                change_id not in self._changes or len(self._held_by.get(change_id, ())) >= processes
                for change_id in change_ids
            )

        with self._changed:
            self._changed.wait_for(answered, timeout)
            return not any(change_id in self._changes for change_id in change_ids)

    def due(self) -> dict[int, bool]:
        """What is still worth applying: id -> whether older pages change too."""
        self._drop_expired()
        with self._changed:
            return {change_id: older for change_id, (older, _) in self._changes.items()}

    def forget(self) -> None:
        with self._changed:
            self._changes.clear()
            self._held_by.clear()
            self._changed.notify_all()

    def _drop_expired(self) -> None:
        if not self._changes:  # Nearly always: then this costs nothing.
            return
        now = time.monotonic()
        with self._changed:
            self._changes = {key: value for key, value in self._changes.items() if value[1] > now}
            self._held_by = {key: held for key, held in self._held_by.items() if key in self._changes}


# One per process.
pending = PendingInvalidations()
