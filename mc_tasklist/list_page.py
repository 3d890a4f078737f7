"""The list page: which page was asked for, whether the visitor can share the cached copy, the
headers and the log line. The view (views.py) and the fast path (page_hits.py) both answer with it."""

import json
import logging
import time

from django.conf import settings
from django.contrib.messages import get_messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.utils.cache import add_never_cache_headers

from mc_tasklist import connections, paging, rendering
from mc_tasklist.caching.read_through import TaskListCache
from mc_tasklist.forms import TaskForm
from mc_tasklist.paging import PageElsewhere, PageRef
from mc_tasklist.selectors import page_holding, task_page

request_log = logging.getLogger("mc_tasklist.requests")


def response(
    request: HttpRequest,
    page: PageRef | None = paging.FIRST,
    *,
    form: TaskForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    """A page of the task list for this visitor (``page`` None: an old numbered link, redirected).

    The cached page serves everyone, the visitor's flash messages and CSRF token
    put in; a form with errors, or an error, is theirs alone and rendered for them.
    """
    started = time.perf_counter()
    if page is None:
        return HttpResponseRedirect(page_holding(paging.requested_number(request.GET)).url)
    task_cache = TaskListCache()
    try:
        if form is None and not error:
            body = task_cache.page(page, lambda: rendering.render_page(task_cache, page))
        else:
            body = rendering.render_page(task_cache, page, form=form, error=error).encode()
            task_cache.served["page"] = "bypass"
    except PageElsewhere as moved:
        return HttpResponseRedirect(moved.to.url)
    # Iterating marks the messages as shown, so they appear once.
    messages = rendering.render_messages(list(get_messages(request)))
    answer = HttpResponse(rendering.insert_visitor_parts(body, get_token(request), messages), status=status)
    add_x_cache_header(answer, task_cache)
    # The body holds this visitor's token and messages: no browser or proxy may
    # keep it, or reuse it after the list changes.
    add_never_cache_headers(answer)
    log(request, page, status, task_cache, started)
    return answer


def refresh_first_page() -> None:
    """After a write: the first page of the list's new version stored in the cache (see invalidation.py)."""
    data = task_page(paging.FIRST)
    connections.give_back()  # not held while the cache answers (up to its timeout, if a server hangs)
    task_cache = TaskListCache()
    task_cache.store_first_page(data, lambda data: rendering.render_page_from(task_cache, data))


def add_x_cache_header(answer: HttpResponse, task_cache: TaskListCache) -> None:
    """How each layer served the page (page=hit...), where TASKLIST_X_CACHE_HEADER shows it."""
    if settings.TASKLIST_X_CACHE_HEADER:
        answer["X-Cache"] = x_cache(task_cache)


def x_cache(task_cache: TaskListCache) -> str:
    return "; ".join(f"{layer}={how}" for layer, how in task_cache.served.items())


def log(
    request,
    page: PageRef,
    status: int,
    task_cache: TaskListCache,
    started: float,
    *,
    fast_path=False,
    level=logging.INFO,
) -> None:
    request_log.log(
        level,
        json.dumps(
            {
                "event": "task_list",
                "method": request.method,
                "page_shown": page.key,
                "status": status,
                **task_cache.served,
                **({"fast_path": True} if fast_path else {}),
                "cache_ms": round(task_cache.cache_seconds * 1000, 2),
                "total_ms": round((time.perf_counter() - started) * 1000, 2),
            }
        ),
    )
