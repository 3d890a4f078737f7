"""The health check the platform probes, answered before any other middleware."""

import json

from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse

HEALTH_PATH = "/healthz"
HEALTH_PROBE_KEY = "tasklist:health-probe"


class HealthCheckMiddleware:
    """Answers the platform's health check at /healthz, before anything else runs.

    It comes first because the check reaches the container directly: over plain
    HTTP (so no HTTPS redirect) and with the container's address as Host (so no
    ALLOWED_HOSTS check). The database decides health; a cache that is down
    only makes the app slower, so it is reported as degraded, not as dead.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path != HEALTH_PATH:
            return self.get_response(request)
        report = {"database": _database_state(), "cache": _cache_state()}
        report["status"] = "ok" if report["cache"] == "ok" else "degraded"
        if report["database"] != "ok":
            report["status"] = "unavailable"
        response = HttpResponse(
            json.dumps(report),
            content_type="application/json",
            status=503 if report["status"] == "unavailable" else 200,
        )
        response["Cache-Control"] = "no-store"
        return response


def _database_state() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception:  # Any failure to query is "unavailable" to the platform.
        return "unavailable"


def _cache_state() -> str:
    cache.set(HEALTH_PROBE_KEY, 1, 30)
    return "ok" if cache.get(HEALTH_PROBE_KEY) == 1 else "unavailable"
