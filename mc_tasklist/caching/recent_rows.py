"""The rendered rows this process has seen lately: safe to keep, because a row's key names its content."""

import threading
from collections import OrderedDict


class RecentRows:
    """The rows this process rendered or read lately, by fragment key.

    A row's key names its content (keys.fragment_key), so a copy kept here can
    never be out of date: it saves rebuilding a page the 50 reads of its rows
    (a write under ``update`` rebuilds the first page, a quarter of its time
    went there). Bounded; the least recently used go first.
    """

    def __init__(self, size: int = 2000):
        self.size = size
        self._rows: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def get_many(self, row_keys: list[str]) -> dict[str, str]:
        with self._lock:
            found = {key: self._rows[key] for key in row_keys if key in self._rows}
            for key in found:
                self._rows.move_to_end(key)
        return found

    def put_many(self, rows: dict[str, str]) -> None:
        with self._lock:
            self._rows.update(rows)
            for key in rows:
                self._rows.move_to_end(key)
            while len(self._rows) > self.size:
                self._rows.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()


# One per process.
recent_rows = RecentRows()
