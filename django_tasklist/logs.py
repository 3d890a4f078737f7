"""Log records as operators read them: one line each, and a bad Host as one warning."""

import atexit
import logging
import logging.handlers
import os
import queue
import threading

# C0 controls, DEL and the line breaks Python's splitlines() knows beyond them.
_ESCAPES = {code: f"\\x{code:02x}" for code in [*range(0x20), 0x7F]} | {
    0x85: "\\x85",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}
_ESCAPES[ord("\n")], _ESCAPES[ord("\r")], _ESCAPES[ord("\t")] = "\\n", "\\r", "\\t"


class OneLineFormatter(logging.Formatter):
    """Escapes line breaks and control characters, a traceback's included, so that no
    client-controlled text (a path, a header, a task name) can forge a record of its own."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).translate(_ESCAPES)


class ClientErrorAsWarning(logging.Filter):
    """Django logs a suspicious request (an unknown Host, a refused upload) as an ERROR
    with a traceback; it is the client's doing, one WARNING line."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info = record.exc_text = None
        return True


class BackgroundStreamHandler(logging.handlers.QueueHandler):
    """Writes records to stderr from a thread of its own; request threads only queue them.

    With a plain StreamHandler the 16 threads of a gthread worker queue up on the
    stream's lock to write the request log line one after another: in the 95/5
    benchmark's profile, a fifth of every worker's samples waited there. The
    record is formatted (one line) before it is queued.
    """

    def __init__(self):
        super().__init__(queue.SimpleQueue())
        self._stream = logging.StreamHandler()
        self._stream.setFormatter(logging.Formatter("%(message)s"))
        self._writer_pid = None
        self._starting = threading.Lock()

    def handle(self, record: logging.LogRecord) -> bool:
        # Without the handler's lock: the queue is thread-safe, and the lock made the threads
        # queue up here instead, to format their lines one at a time.
        kept = self.filter(record)
        if kept:
            self.emit(record)
        return kept

    def enqueue(self, record: logging.LogRecord) -> None:
        if self._writer_pid != os.getpid():
            self._start_writer()
        self.queue.put_nowait(record)

    def _start_writer(self) -> None:
        # In each process: gunicorn's workers are forked, and a thread does not survive a fork.
        with self._starting:
            if self._writer_pid == os.getpid():
                return
            writer = logging.handlers.QueueListener(self.queue, self._stream)
            writer.start()
            atexit.register(writer.stop)  # what is queued is written before the process ends
            self._writer_pid = os.getpid()


def logging_settings(level: str) -> dict:
    """LOGGING for settings.py: every record on one line, client errors as warnings, our loggers at ``level``."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        # One record, one line: whatever a client put in a path or header cannot start a line of its own.
        "formatters": {
            "plain": {
                "()": "django_tasklist.logs.OneLineFormatter",
                "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
            }
        },
        "filters": {"client_error_as_warning": {"()": "django_tasklist.logs.ClientErrorAsWarning"}},
        "handlers": {
            "console": {"class": "django_tasklist.logs.BackgroundStreamHandler", "formatter": "plain"},
            # On a handler: a logger's own filters do not see its children's records.
            "client_errors": {
                "class": "django_tasklist.logs.BackgroundStreamHandler",
                "formatter": "plain",
                "filters": ["client_error_as_warning"],
            },
        },
        "root": {"handlers": ["console"], "level": "WARNING"},
        "loggers": {
            # An unknown Host, a file in a form: the client's mistake or a scan, not our error.
            "django.security": {"handlers": ["client_errors"], "propagate": False},
            "django_tasklist": {"level": level},
            "mc_tasklist": {"level": level},
        },
    }
