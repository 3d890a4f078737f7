"""A database outage in the log: one line when it starts, one when it ends.

The list's version is retried every second and the stats flusher every few
seconds; a line per retry made four workers write twenty lines for a five-second
PostgreSQL restart, and hid what else happened meanwhile.
"""

import logging
import threading


class OutageLog:
    def __init__(self, logger: logging.Logger, what: str):
        self._logger = logger
        self._what = what
        self._down = False
        self._lock = threading.Lock()

    def failed(self, error: BaseException) -> None:
        with self._lock:
            if self._down:
                return
            self._down = True
        reason = (str(error).splitlines() or [type(error).__name__])[0]
        self._logger.warning("%s: the database does not answer (%s); retrying until it does", self._what, reason)

    def succeeded(self) -> None:
        with self._lock:
            if not self._down:
                return
            self._down = False
        self._logger.warning("%s: the database answers again", self._what)
