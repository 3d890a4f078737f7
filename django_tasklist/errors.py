"""What a visitor sees when a request fails on our side.

Django answers every uncaught exception with a 500. An unreachable database
(restarting, failing over, out of connections) is not a bug in the app but a
service that is briefly unavailable, so it gets a 503 with Retry-After: load
balancers and clients know to retry, and the visitor is told to come back in a
moment instead of seeing a server error. Neither page touches the database.
Django's request logger still records each one, with its traceback.
"""

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.views import defaults

from django_tasklist.limits import FileUploadRefused

RETRY_AFTER_SECONDS = 5


def server_error(request) -> HttpResponse:
    error = sys.exc_info()[1]  # Django calls this handler while handling the exception.
    if _caused_by_database_outage(error):
        return database_unavailable()
    response = HttpResponse(render_to_string("500.html"), status=500)
    response["Cache-Control"] = "no-store"
    return response


def bad_request(request, exception) -> HttpResponse:
    # Django's session middleware turns any database error while saving a
    # session into SessionInterrupted, a 400 that tells the visitor their
    # session "was deleted". When the database is down, that is a 503 instead.
    if _caused_by_database_outage(exception):
        return database_unavailable()
    if isinstance(exception, FileUploadRefused):
        return HttpResponse(render_to_string("400_upload.html"), status=400)
    return defaults.bad_request(request, exception)


def database_unavailable() -> HttpResponse:
    response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


def _caused_by_database_outage(error: BaseException | None) -> bool:
    while error is not None:
        if isinstance(error, OperationalError | InterfaceError):
            return True
        error = error.__cause__ or error.__context__
    return False
