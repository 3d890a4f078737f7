"""The invalidations this process could not get confirmed, and what they mean for its reads.

While a change is pending here, some cache server may still hold list or page
entries from before it, and this process could reach that server again at any
moment (its back-off ends, a node returns). So until the change is confirmed,
by this process or another, this process reads no list or page from the cache
(caching/read_through.py): it serves them from the database, as when the cache
is down. Each entry lasts at most until the entries it names have expired.
"""

import threading
import time


class PendingInvalidations:
    def __init__(self):
        self._changes: dict[int, tuple[bool, float]] = {}  # id -> (older pages too, expired by)
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        self._drop_expired()
        return bool(self._changes)

    def add(self, changes: dict[int, bool], *, expired_by: float) -> None:
        with self._lock:
            for change_id, older_pages in changes.items():
                self._changes.setdefault(change_id, (older_pages, expired_by))

    def discard(self, change_ids) -> None:
        with self._lock:
            for change_id in change_ids:
                self._changes.pop(change_id, None)

    def due(self) -> dict[int, bool]:
        """What is still worth applying: id -> whether older pages change too."""
        self._drop_expired()
        with self._lock:
            return {change_id: older for change_id, (older, _) in self._changes.items()}

    def forget(self) -> None:
        with self._lock:
            self._changes.clear()

    def _drop_expired(self) -> None:
        if not self._changes:  # Nearly always: then this costs nothing.
            return
        now = time.monotonic()
        with self._lock:
            self._changes = {key: value for key, value in self._changes.items() if value[1] > now}


# One per process.
pending = PendingInvalidations()
