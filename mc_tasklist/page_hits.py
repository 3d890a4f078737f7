"""The fast path: a warm page hit answered before Django's request machinery runs.

A page hit needs little: the cached page, the visitor's own CSRF token in it,
the visitor's CSRF cookie if they have none, and the headers every list page
carries (security headers, CSP, Permissions-Policy, Cache-Control, Vary).
Walking Django's handler, URL resolver and fifteen middleware for that cost
more than the page itself. So this WSGI wrapper (django_tasklist/wsgi.py)
answers `GET /`, `GET /?before=<id>` and `GET /?after=<id>` itself when all of these hold:

* the host is allowed and, where HTTPS is required, the request came over it;
* the visitor has no session (a staff user's: it needs Django); flash messages
  ("Added ...") are read and cleared with Django's own cookie message storage
  and put into the page, so the redirect after a write is a hit too;
* the page is in this process's copy or in the cache, for the list's version
  this process trusts (the same entry, judged the same way, as the view's:
  every consistency promise holds unchanged);
* this process has already answered such a request through Django and kept
  that response's headers: they are replayed, so a hit carries exactly what
  the middleware would have added (with a fresh Expires), and a change to the
  middleware or its settings changes both paths at once.

The visitor's token and CSRF cookie are Django's, made as its middleware
makes them (csrf_tokens.py, held to Django's own functions by its tests): the
secret from the visitor's cookie, or a new one sent in that cookie, and a
fresh mask. The tests post every kind of token this makes.

Anything else goes to Django, which answers as before and fills the entry.
What a hit skips: sessions, authentication, django-axes, WhiteNoise, the view.
What it still does: host validation, the HTTPS rule, CSRF (a token per visitor,
and the cookie renewed as Django renews it), the visitor's flash messages, the
X-Cache header where enabled, the counters, and the request log line at DEBUG.

Measured piece by piece in one process (docs/bench.md), a hit spent 24 µs making
a WSGIRequest, 24 µs on the message storage of a visitor with no message, 148 µs
building an HttpResponse with its headers and cookie, and 42 µs on the log line.
So the answer is written as WSGI's status and header list; the host and scheme
are judged by Django once per distinct (Host, scheme) and remembered; the message
storage runs only for a visitor who has a message cookie; the CSRF cookie's
header is Django's own, made once a second (csrf_tokens.cookie_header); and the
log line of a hit is at DEBUG: gunicorn's access line and the counters
(``process_hit``, ``page_hit``) record it already.
"""

import logging
import time

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.wsgi import WSGIRequest
from django.db import DatabaseError
from django.http import HttpResponse, QueryDict
from django.http.cookie import parse_cookie
from django.utils.http import http_date

from mc_tasklist import csrf_tokens, list_page, paging, rendering, stats
from mc_tasklist.caching.read_through import TaskListCache
from mc_tasklist.message_storage import VisitorMessageCookie

logger = logging.getLogger(__name__)

# Set per response, never replayed.
PER_RESPONSE_HEADERS = frozenset({"set-cookie", "content-length", "x-cache", "date", "expires"})
# The request's parts that Django's host and scheme checks read (with SECURE_PROXY_SSL_HEADER's header):
# their verdicts are remembered by these.
JUDGED_BY = (
    "HTTP_HOST",
    "SERVER_NAME",
    "SERVER_PORT",
    "wsgi.url_scheme",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
)
# Distinct verdicts kept; more (someone sending random Host headers) start the memory again.
MAX_VERDICTS = 256


class CachedPageHits:
    def __init__(self, application):
        self.application = application
        # The headers of a list page answered through Django, by whether it came over HTTPS
        # (HSTS is sent only then).
        self.learned_headers: dict[bool, list[tuple[str, str]]] = {}
        # Django's verdict on a request's host and scheme: whether it came over HTTPS, or None if refused.
        self._verdicts: dict[tuple, bool | None] = {}

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        if (
            environ.get("REQUEST_METHOD") != "GET"
            or environ.get("PATH_INFO") != "/"
            or not settings.TASKLIST_FAST_PAGE_HITS
        ):
            return self.application(environ, start_response)
        cookies = parse_cookie(environ.get("HTTP_COOKIE", ""))
        secure = self._verdict(environ)
        if secure is None or settings.SESSION_COOKIE_NAME in cookies:
            return self.application(environ, start_response)
        query = environ.get("QUERY_STRING", "")
        page = paging.requested(QueryDict(query)) if query else paging.FIRST
        task_cache = TaskListCache()
        body = None
        if page is not None and secure in self.learned_headers:
            try:
                body = task_cache.cached_page(page)
            except DatabaseError:
                pass  # No version known at all: Django answers (the 503 page).
        if body is None:
            return self.application(environ, self._learning(start_response, secure))
        if settings.TASKLIST_MESSAGES_COOKIE_NAME in cookies:
            status, headers, content = self._with_messages(WSGIRequest(environ), body, secure)
        else:
            secret = csrf_tokens.visitor_secret(cookies) or csrf_tokens.random_string()
            content = rendering.insert_visitor_parts(body, csrf_tokens.masked_token(secret))
            status, headers = (
                "200 OK",
                [*self.learned_headers[secure], ("Set-Cookie", csrf_tokens.cookie_header(secret))],
            )
        headers += [("Expires", http_date()), ("Content-Length", str(len(content)))]
        if settings.TASKLIST_X_CACHE_HEADER:
            headers.append(("X-Cache", list_page.x_cache(task_cache)))
        start_response(status, headers)
        if list_page.request_log.isEnabledFor(logging.DEBUG):
            list_page.log(WSGIRequest(environ), page, 200, task_cache, started, fast_path=True, level=logging.DEBUG)
        stats.observe_request(time.perf_counter() - started)
        return [content]

    def _verdict(self, environ) -> bool | None:
        """Whether the request came over HTTPS; None if Django would refuse its host, or redirect it to HTTPS.

        Both depend on the request's JUDGED_BY parts and the settings alone, so Django judges each
        combination once (through a WSGIRequest, as its middleware would) and the verdict is remembered.
        """
        proxy_ssl_header = settings.SECURE_PROXY_SSL_HEADER[0] if settings.SECURE_PROXY_SSL_HEADER else None
        judged_by = (*(environ.get(name) for name in JUDGED_BY), environ.get(proxy_ssl_header))
        if judged_by not in self._verdicts:
            if len(self._verdicts) >= MAX_VERDICTS:
                self._verdicts.clear()
            self._verdicts[judged_by] = _judge(WSGIRequest(environ))
        return self._verdicts[judged_by]

    def _with_messages(self, request, body: bytes, secure: bool) -> tuple[str, list, bytes]:
        """For a visitor with a message cookie: the messages read and cleared by Django's own storage."""
        storage = VisitorMessageCookie(request)
        messages = rendering.render_messages(list(storage))
        secret = csrf_tokens.visitor_secret(request.COOKIES) or csrf_tokens.random_string()
        response = HttpResponse(rendering.insert_visitor_parts(body, csrf_tokens.masked_token(secret), messages))
        storage.update(response)
        csrf_tokens.set_cookie(response, secret)
        cookies = [("Set-Cookie", cookie.output(header="").lstrip()) for cookie in response.cookies.values()]
        return "200 OK", [*self.learned_headers[secure], *cookies], response.content

    def _learning(self, start_response, secure: bool):
        def remember_headers(status, headers, exc_info=None):
            if status.startswith("200 ") and secure not in self.learned_headers:
                self.learned_headers[secure] = [
                    (name, value) for name, value in headers if name.lower() not in PER_RESPONSE_HEADERS
                ]
                # Until this moment the fast path was off for this scheme in this process: say so once.
                logger.info("fast path on for %s page hits: headers learned from Django's answer", _scheme(secure))
            return start_response(status, headers, exc_info)

        return remember_headers


def _judge(request: WSGIRequest) -> bool | None:
    try:
        request.get_host()
    except DisallowedHost:
        return None
    if settings.SECURE_SSL_REDIRECT and not request.is_secure():
        return None
    return request.is_secure()


def _scheme(secure: bool) -> str:
    return "HTTPS" if secure else "HTTP"
