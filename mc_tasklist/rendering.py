"""HTML for the task list, rendered so that one copy can serve every visitor.

Django's docs ("Using CSRF protection with caching") explain why a cached page
must not hold a CSRF token: every visitor would get the first visitor's. The
tutorial's answer was to switch CSRF off. Here the page and its rows are
rendered with a placeholder where the token goes, and each response gets the
requesting visitor's own token just before it is sent (``insert_csrf_token``).
"""

from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from mc_tasklist.caching.keys import PAGE_TEMPLATE, ROW_TEMPLATE
from mc_tasklist.forms import TaskForm
from mc_tasklist.models import Task
from mc_tasklist.selectors import page_count, task_page

# Autoescaping turns "<" in any task name into "&lt;", so no name can contain this.
CSRF_PLACEHOLDER = mark_safe("<!--csrf-token-->")
_CSRF_PLACEHOLDER_BYTES = CSRF_PLACEHOLDER.encode()


def render_row(task: dict) -> str:
    return render_to_string(ROW_TEMPLATE, {"task": task, "csrf_token": CSRF_PLACEHOLDER})


def render_list_page(
    data: dict,
    rows: list[str],
    number: int,
    *,
    form: TaskForm | None = None,
    error: str = "",
    messages=(),
) -> str:
    """A page of the list (``data`` as selectors.task_page returns it), without visitor data
    unless a form, error or messages are given."""
    context = {
        "form": form or TaskForm(),
        "error": error,
        "messages": messages,
        "rows": [mark_safe(row) for row in rows],
        "page": {"number": number, "last": page_count(data["count"]), "task_count": data["count"]},
        "name_max_length": Task.NAME_MAX_LENGTH,
        "csrf_token": CSRF_PLACEHOLDER,
    }
    return render_to_string(PAGE_TEMPLATE, context)


def render_page(task_cache, number: int, **visitor_data) -> str:
    """The Russian dolls: a page from the cached list and the cached rows (``task_cache``: a TaskListCache)."""
    data = task_cache.tasks(number, task_page)
    rows = task_cache.rows(data["tasks"], render_row)
    return render_list_page(data, rows, number, **visitor_data)


def insert_csrf_token(body: bytes, token: str) -> bytes:
    return body.replace(_CSRF_PLACEHOLDER_BYTES, token.encode())
