"""What this process keeps in its own memory: entries whose key names their content, so no copy can be out of date."""

import threading
from collections import OrderedDict
from collections.abc import Hashable


class LocalCopies:
    """Entries by key, bounded, the least recently used going first; only for keys that say exactly what they
    hold (a row's names its content, a page's the version it shows), so a copy is never stale."""

    def __init__(self, size: int):
        self.size = size
        self._entries: OrderedDict[Hashable, object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable):
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
        return value

    def get_many(self, keys: list[Hashable]) -> dict:
        with self._lock:
            found = {key: self._entries[key] for key in keys if key in self._entries}
            for key in found:
                self._entries.move_to_end(key)
        return found

    def put_many(self, entries: dict) -> None:
        with self._lock:
            self._entries.update(entries)
            for key in entries:
                self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


# One of each per process. Rows: a quarter of a write's rebuild of the first page went to reading its 50
# rows. Pages (about 25 KB each): a warm hit is a dictionary look-up instead of a memcached round trip.
recent_rows = LocalCopies(2000)
served_pages = LocalCopies(64)
