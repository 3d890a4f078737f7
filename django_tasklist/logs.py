"""Log records as operators read them: one line each, and a bad Host as one warning."""

import logging

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
