"""Which page of the list a visitor asked for: the newest tasks, or those before or after a task.

Pages are anchored at a task id (a keyset, as Django REST framework's
CursorPagination anchors them), not numbered: ``/?before=<id>`` is the page of
tasks older than that task, ``/?after=<id>`` the page of those just newer than
it (``/?after=0``: the oldest). So a page costs one index range scan at any
depth, where ``OFFSET`` read every row before it (docs/bench.md has the
figures), and an added task, which is always the newest, changes the
first page and no other: the older pages keep their cache entries.
"""

from dataclasses import dataclass

# Longer than this is no task id (PostgreSQL's bigint has 19 digits).
MAX_ANCHOR_DIGITS = 18


@dataclass(frozen=True)
class PageRef:
    kind: str  # "first", "before" or "after"
    anchor: int = 0

    @property
    def query_string(self) -> str:
        return "" if self.kind == "first" else f"?{self.kind}={self.anchor}"

    @property
    def url(self) -> str:
        return "/" + self.query_string

    @property
    def key(self) -> str:
        """How the page is named in cache keys."""
        return "first" if self.kind == "first" else f"{self.kind}:{self.anchor}"


FIRST = PageRef("first")
OLDEST = PageRef("after", 0)


def before(task_id: int) -> PageRef:
    return PageRef("before", task_id)


def after(task_id: int) -> PageRef:
    return PageRef("after", task_id)


def requested(query) -> PageRef | None:
    """The page a query string (a QueryDict) asks for; None for an old numbered link (``?page=N``, N > 1).

    An anchor that is not a whole number gets the first page, as does ``?page=1``
    or a page number that is not a positive whole number.
    """
    for kind, smallest in (("before", 1), ("after", 0)):
        if kind in query:
            anchor = _whole_number(query.get(kind))
            return PageRef(kind, anchor) if anchor is not None and anchor >= smallest else FIRST
    if "page" in query:
        return None if requested_number(query) > 1 else FIRST
    return FIRST


def requested_number(query) -> int:
    """The page number of a numbered link; 0 if it is none. More digits than any list has pages count as the most."""
    value = query.get("page", "")
    if not _digits(value):
        return 0
    return int(value) if len(value) <= MAX_ANCHOR_DIGITS else 10**MAX_ANCHOR_DIGITS


def _whole_number(value: str) -> int | None:
    return int(value) if _digits(value) and len(value) <= MAX_ANCHOR_DIGITS else None


def _digits(value: str) -> bool:
    # str.isdigit() alone accepts other scripts' digits and superscripts, which int() may refuse.
    return bool(value) and value.isascii() and value.isdigit()


class PageElsewhere(Exception):
    """The page asked for is shown under another address (``to``): its anchor names no task any more,
    or the page would not be full. Every page the cache holds is so named once."""

    def __init__(self, to: PageRef):
        super().__init__(to.url)
        self.to = to
