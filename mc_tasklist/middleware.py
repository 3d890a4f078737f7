"""Middleware of the task list app."""

import time

from mc_tasklist import stats
from mc_tasklist.caching.invalidation import retry_pending
from mc_tasklist.list_page import refresh_first_page


class RequestDurationMiddleware:
    """Count every request's duration into the latency histogram that /metrics shows."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        stats.observe_request(time.perf_counter() - started)
        return response


class RetryPendingInvalidationsMiddleware:
    """Before each request, retry the invalidations a cache server has not confirmed yet.

    Before the request, so that a server which comes back holding entries that
    missed an invalidation has them replaced (or removed) as soon as this process can reach it (until
    then its reads skip the list and page entries: caching/pending.py). With
    nothing pending, as nearly always, this costs one truth test.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        retry_pending(refresh=refresh_first_page)
        return self.get_response(request)
