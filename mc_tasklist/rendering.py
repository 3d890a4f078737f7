"""HTML for the task list, rendered so that one copy can serve every visitor.

Django's docs ("Using CSRF protection with caching") explain why a cached page
must not hold a CSRF token: every visitor would get the first visitor's. The
tutorial's answer was to switch CSRF off. Here the page and its rows are
rendered with a placeholder where the token goes, and each response gets the
requesting visitor's own token just before it is sent (``insert_visitor_parts``), with
their flash messages, which the cached page keeps a place for in the same way.
"""

from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from mc_tasklist import paging
from mc_tasklist.caching.keys import PAGE_TEMPLATE, ROW_TEMPLATE
from mc_tasklist.forms import TaskForm
from mc_tasklist.models import Task
from mc_tasklist.paging import PageRef
from mc_tasklist.selectors import task_page

MESSAGES_TEMPLATE = "mc_tasklist/_messages.html"

# Autoescaping turns "<" in any task name into "&lt;", so no name can contain these.
CSRF_PLACEHOLDER = mark_safe("<!--csrf-token-->")
_CSRF_PLACEHOLDER_BYTES = CSRF_PLACEHOLDER.encode()
# Where a visitor's flash messages ("Added ...") go in a page served from the cache.
MESSAGES_PLACEHOLDER = mark_safe("<!--messages-->")
_MESSAGES_PLACEHOLDER_BYTES = MESSAGES_PLACEHOLDER.encode()


def render_row(task: dict) -> str:
    return render_to_string(ROW_TEMPLATE, {"task": task, "csrf_token": CSRF_PLACEHOLDER})


def render_list_page(
    data: dict, rows: list[str], page: PageRef, *, form: TaskForm | None = None, error: str = ""
) -> str:
    """A page of the list (``data`` as selectors.task_page returns it), without visitor data
    unless a form or an error is given."""
    tasks = data["tasks"]
    context = {
        "form": form or TaskForm(),
        "error": error,
        "messages_html": MESSAGES_PLACEHOLDER,
        "rows": [mark_safe(row) for row in rows],
        "page": {
            "first": page == paging.FIRST,
            "task_count": data["count"],
            "newer": paging.after(tasks[0]["id"]).url if tasks and page != paging.FIRST else None,
            "older": paging.before(tasks[-1]["id"]).url if data["older"] else None,
            "oldest": paging.OLDEST.url if data["older"] else None,
        },
        "name_max_length": Task.NAME_MAX_LENGTH,
        "csrf_token": CSRF_PLACEHOLDER,
    }
    return render_to_string(PAGE_TEMPLATE, context)


def render_page(task_cache, page: PageRef, **visitor_data) -> str:
    """The Russian dolls: a page from the cached list and the cached rows (``task_cache``: a TaskListCache)."""
    data = task_cache.tasks(page, task_page)
    return render_page_from(task_cache, data, page, **visitor_data)


def render_page_from(task_cache, data: dict, page: PageRef = paging.FIRST, **visitor_data) -> str:
    """A page from a list already read (``data``), its rows from the cache."""
    return render_list_page(data, task_cache.rows(data["tasks"], render_row), page, **visitor_data)


def render_messages(messages) -> bytes:
    return render_to_string(MESSAGES_TEMPLATE, {"messages": messages}).encode() if messages else b""


def insert_visitor_parts(body: bytes, token: str, messages: bytes = b"") -> bytes:
    """The page for one visitor: their CSRF token, and their flash messages where the page keeps a place for them."""
    return body.replace(_CSRF_PLACEHOLDER_BYTES, token.encode()).replace(_MESSAGES_PLACEHOLDER_BYTES, messages, 1)
