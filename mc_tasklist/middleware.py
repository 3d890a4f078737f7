"""Middleware of the task list app."""

import time

from mc_tasklist import stats


class RequestDurationMiddleware:
    """Count every request's duration into the latency histogram that /metrics shows."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        stats.observe_request(time.perf_counter() - started)
        return response
