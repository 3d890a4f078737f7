"""HTML for the task list, rendered so that one copy can serve every visitor.

Django's docs ("Using CSRF protection with caching") explain why a cached page
must not hold a CSRF token: every visitor would get the first visitor's. The
tutorial's answer was to switch CSRF off. Here the page and its rows are
rendered with a placeholder where the token goes, and each response gets the
requesting visitor's own token just before it is sent.
"""

import json
import logging
import time

from django.contrib.messages import get_messages
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils.cache import add_never_cache_headers
from django.utils.safestring import mark_safe

from mc_tasklist import caching
from mc_tasklist.forms import TaskForm
from mc_tasklist.models import Task
from mc_tasklist.selectors import task_page

request_log = logging.getLogger("mc_tasklist.requests")

# Autoescaping turns "<" in any task name into "&lt;", so no name can contain this.
CSRF_PLACEHOLDER = mark_safe("<!--csrf-token-->")
_CSRF_PLACEHOLDER_BYTES = CSRF_PLACEHOLDER.encode()


def render_row(task: dict) -> str:
    return render_to_string(caching.ROW_TEMPLATE, {"task": task, "csrf_token": CSRF_PLACEHOLDER})


def render_list_page(
    task_cache: caching.TaskListCache,
    number: int,
    *,
    form: TaskForm | None = None,
    error: str = "",
    messages=(),
) -> str:
    """A page of the list without visitor data, unless a form, error or messages are given."""
    data = task_cache.tasks(number, task_page)
    rows = [mark_safe(row) for row in task_cache.rows(data["tasks"], render_row)]
    context = {
        "form": form or TaskForm(),
        "error": error,
        "messages": messages,
        "rows": rows,
        "page": {"number": number, "last": caching.page_count(data["count"]), "task_count": data["count"]},
        "name_max_length": Task.NAME_MAX_LENGTH,
        "csrf_token": CSRF_PLACEHOLDER,
    }
    return render_to_string(caching.PAGE_TEMPLATE, context)


def list_page_response(
    request: HttpRequest, *, number: int = 1, form: TaskForm | None = None, error: str = "", status: int = 200
) -> HttpResponse:
    """A page of the task list for this visitor, from the page cache when nothing in it is theirs."""
    started = time.perf_counter()
    task_cache = caching.TaskListCache()
    if number > 1:
        last = caching.page_count(task_cache.tasks(1, task_page)["count"])
        if number > last:
            number, status = last, 404
            error = error or f"There is no page {request.GET.get('page')}; here is the last page."
    pending = get_messages(request)
    if form is None and not error and not len(pending):
        body = task_cache.page(number, lambda: render_list_page(task_cache, number))
    else:
        # Iterating marks the messages as shown, so they appear once.
        body = render_list_page(task_cache, number, form=form, error=error, messages=list(pending)).encode()
        task_cache.served["page"] = "bypass"
    response = HttpResponse(body.replace(_CSRF_PLACEHOLDER_BYTES, get_token(request).encode()), status=status)
    response["X-Cache"] = "; ".join(f"{layer}={how}" for layer, how in task_cache.served.items())
    # The body holds this visitor's token and messages: no browser or proxy may
    # keep it, or reuse it after the list changes.
    add_never_cache_headers(response)
    request_log.info(
        json.dumps(
            {
                "event": "task_list",
                "method": request.method,
                "page_number": number,
                "status": status,
                **task_cache.served,
                "cache_ms": round(task_cache.cache_seconds * 1000, 2),
                "total_ms": round((time.perf_counter() - started) * 1000, 2),
            }
        )
    )
    return response
