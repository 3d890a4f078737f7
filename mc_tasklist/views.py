"""Thin views: parse the request, call a service or the cached reads, answer."""

import json
import logging
import time

from django.conf import settings
from django.contrib import messages
from django.contrib.messages import get_messages
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_POST, require_safe

from mc_tasklist import rendering, services
from mc_tasklist.caching.read_through import TaskListCache
from mc_tasklist.forms import RemoveTaskForm, TaskForm
from mc_tasklist.selectors import page_in_range, task_page
from mc_tasklist.throttling import limit_anonymous_writes

request_log = logging.getLogger("mc_tasklist.requests")


@require_safe
def index(request):
    return list_page_response(request, number=requested_page(request))


def requested_page(request) -> int:
    """?page=N. Anything but a positive whole number means the first page."""
    try:
        number = int(request.GET.get("page", "1"))
    except ValueError:  # Not a number, or more digits than Python will convert.
        return 1
    return max(number, 1)


@require_POST
@limit_anonymous_writes
def add(request):
    form = TaskForm(request.POST)
    if not form.is_valid():
        # The page comes back with the message and the name as typed.
        return list_page_response(request, form=form, status=400)
    task = services.task_create(name=form.cleaned_data["name"])
    messages.success(request, f"Added “{task.name}”.")
    return redirect("index")


@require_POST
@limit_anonymous_writes
def remove(request):
    form = RemoveTaskForm(request.POST)
    if not form.is_valid():
        return list_page_response(request, error=form.errors["id"][0], status=400)
    task = services.task_delete(task_id=form.cleaned_data["id"])
    if task is None:
        return list_page_response(
            request, error="That task does not exist; it may have been deleted already.", status=404
        )
    messages.success(request, f"Deleted “{task.name}”.")
    return redirect("index")


def list_page_response(
    request: HttpRequest, *, number: int = 1, form: TaskForm | None = None, error: str = "", status: int = 200
) -> HttpResponse:
    """A page of the task list for this visitor, from the page cache when nothing in it is theirs."""
    started = time.perf_counter()
    task_cache = TaskListCache()
    if number > 1:
        number, past_the_end = page_in_range(number, task_cache.tasks(1, task_page)["count"])
        if past_the_end:
            status = 404
            error = error or f"There is no page {request.GET.get('page')}; here is the last page."
    pending = get_messages(request)
    if form is None and not error and not len(pending):
        body = task_cache.page(number, lambda: rendering.render_page(task_cache, number))
    else:
        # Iterating marks the messages as shown, so they appear once.
        body = rendering.render_page(task_cache, number, form=form, error=error, messages=list(pending)).encode()
        task_cache.served["page"] = "bypass"
    response = HttpResponse(rendering.insert_csrf_token(body, get_token(request)), status=status)
    add_x_cache_header(response, task_cache)
    # The body holds this visitor's token and messages: no browser or proxy may
    # keep it, or reuse it after the list changes.
    add_never_cache_headers(response)
    log_list_request(request, number, status, task_cache, started)
    return response


def add_x_cache_header(response: HttpResponse, task_cache: TaskListCache) -> None:
    """How each layer served the page (page=hit...), where TASKLIST_X_CACHE_HEADER shows it."""
    if settings.TASKLIST_X_CACHE_HEADER:
        response["X-Cache"] = "; ".join(f"{layer}={how}" for layer, how in task_cache.served.items())


def log_list_request(
    request, number: int, status: int, task_cache: TaskListCache, started: float, *, fast_path: bool = False
) -> None:
    request_log.info(
        json.dumps(
            {
                "event": "task_list",
                "method": request.method,
                "page_number": number,
                "status": status,
                **task_cache.served,
                **({"fast_path": True} if fast_path else {}),
                "cache_ms": round(task_cache.cache_seconds * 1000, 2),
                "total_ms": round((time.perf_counter() - started) * 1000, 2),
            }
        )
    )
