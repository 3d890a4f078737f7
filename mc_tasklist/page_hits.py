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
* this process holds no invalidation the cache has not confirmed
  (caching/pending.py; ``TaskListCache.cached_page`` declines then): retrying
  one may write to the database, which is Django's to do, with its connection
  handling;
* the page is in the cache (the same entry, read the same way, as the view's:
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
X-Cache header where enabled, the request log line, the counters.
"""

import logging
import time

from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.exceptions import DisallowedHost
from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpResponse
from django.utils.cache import patch_vary_headers
from django.utils.http import http_date

from mc_tasklist import csrf_tokens, list_page, paging, rendering, stats
from mc_tasklist.caching.read_through import TaskListCache

logger = logging.getLogger(__name__)

# Set per response, never replayed.
PER_RESPONSE_HEADERS = frozenset({"set-cookie", "content-length", "x-cache", "date", "expires"})


class CachedPageHits:
    def __init__(self, application):
        self.application = application
        # The headers of a list page answered through Django, by whether it came over HTTPS
        # (HSTS is sent only then).
        self.learned_headers: dict[bool, list[tuple[str, str]]] = {}

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        request = self._eligible(environ)
        if request is None:
            return self.application(environ, start_response)
        secure = request.is_secure()
        page = paging.requested(request.GET)
        task_cache = TaskListCache()
        body = task_cache.cached_page(page) if page is not None and secure in self.learned_headers else None
        if body is None:
            return self.application(environ, self._learning(start_response, secure))
        response = self._response(request, body, self.learned_headers[secure], task_cache)
        start_response(
            f"{response.status_code} {response.reason_phrase}",
            [*response.items(), *(("Set-Cookie", cookie.output(header="")) for cookie in response.cookies.values())],
        )
        list_page.log(request, page, 200, task_cache, started, fast_path=True)
        stats.observe_request(time.perf_counter() - started)
        return [response.content]

    def _eligible(self, environ) -> WSGIRequest | None:
        if (
            environ.get("REQUEST_METHOD") != "GET"
            or environ.get("PATH_INFO") != "/"
            or not settings.TASKLIST_FAST_PAGE_HITS
        ):
            return None
        request = WSGIRequest(environ)
        if settings.SESSION_COOKIE_NAME in request.COOKIES:
            return None
        try:
            request.get_host()
        except DisallowedHost:
            return None
        if settings.SECURE_SSL_REDIRECT and not request.is_secure():
            return None
        return request

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

    def _response(self, request, body: bytes, headers, task_cache: TaskListCache) -> HttpResponse:
        secret = csrf_tokens.visitor_secret(request) or csrf_tokens.random_string()
        # The visitor's flash messages ("Added ..."), read and cleared by Django's own message storage,
        # so that the redirect after a write is a hit too.
        storage = CookieStorage(request)
        messages = rendering.render_messages(list(storage))
        response = HttpResponse(rendering.insert_visitor_parts(body, csrf_tokens.masked_token(secret), messages))
        storage.update(response)
        for name, value in headers:
            response[name] = value
        response["Expires"] = http_date()
        response["Content-Length"] = str(len(response.content))
        list_page.add_x_cache_header(response, task_cache)
        csrf_tokens.set_cookie(response, secret)
        patch_vary_headers(response, ("Cookie",))
        return response


def _scheme(secure: bool) -> str:
    return "HTTPS" if secure else "HTTP"
