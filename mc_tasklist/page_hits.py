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

The visitor's token is Django's masked token, made as Django makes it (the
secret from the visitor's CSRF cookie, or a new one sent in that cookie, and
a fresh mask), with the randomness drawn in one ``os.urandom`` call: Django's
``get_random_string`` draws once per character, which was about 30 % of a
hit. The tests post every kind of token this makes.

Anything else goes to Django, which answers as before and fills the entry.
What a hit skips: sessions, authentication, django-axes, WhiteNoise, the view.
What it still does: host validation, the HTTPS rule, CSRF (a token per visitor,
and the cookie renewed as Django renews it), the visitor's flash messages, the
X-Cache header where enabled, the request log line, the counters.
"""

import os
import time

from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.exceptions import DisallowedHost
from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpResponse
from django.middleware.csrf import CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH
from django.utils.cache import patch_vary_headers
from django.utils.http import http_date

from mc_tasklist import list_page, paging, rendering, stats
from mc_tasklist.caching.read_through import TaskListCache

# Set per response, never replayed.
PER_RESPONSE_HEADERS = frozenset({"set-cookie", "content-length", "x-cache", "date", "expires"})

_CHAR_INDEX = {char: index for index, char in enumerate(CSRF_ALLOWED_CHARS)}
# Random bytes at or above this are dropped, so that every character is equally likely.
_UNBIASED_BELOW = 256 - 256 % len(CSRF_ALLOWED_CHARS)


def random_csrf_string() -> str:
    """CSRF_SECRET_LENGTH characters of CSRF_ALLOWED_CHARS, uniformly from the OS's random source."""
    chosen: list[str] = []
    while len(chosen) < CSRF_SECRET_LENGTH:
        chosen += [
            CSRF_ALLOWED_CHARS[byte % len(CSRF_ALLOWED_CHARS)] for byte in os.urandom(48) if byte < _UNBIASED_BELOW
        ]
    return "".join(chosen[:CSRF_SECRET_LENGTH])


def masked_token(secret: str) -> str:
    """Django's token for ``secret``: a random mask, then the secret shifted by it (django/middleware/csrf.py)."""
    mask = random_csrf_string()
    size = len(CSRF_ALLOWED_CHARS)
    return mask + "".join(
        CSRF_ALLOWED_CHARS[(_CHAR_INDEX[s] + _CHAR_INDEX[m]) % size] for s, m in zip(secret, mask, strict=True)
    )


def visitor_secret(request) -> str | None:
    """The secret in the visitor's CSRF cookie, if it is one Django would accept as it stands."""
    secret = request.COOKIES.get(settings.CSRF_COOKIE_NAME, "")
    return secret if len(secret) == CSRF_SECRET_LENGTH and all(c in _CHAR_INDEX for c in secret) else None


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
            return start_response(status, headers, exc_info)

        return remember_headers

    def _response(self, request, body: bytes, headers, task_cache: TaskListCache) -> HttpResponse:
        secret = visitor_secret(request) or random_csrf_string()
        # The visitor's flash messages ("Added ..."), read and cleared by Django's own message storage,
        # so that the redirect after a write is a hit too.
        storage = CookieStorage(request)
        messages = rendering.render_messages(list(storage))
        response = HttpResponse(rendering.insert_visitor_parts(body, masked_token(secret), messages))
        storage.update(response)
        for name, value in headers:
            response[name] = value
        response["Expires"] = http_date()
        response["Content-Length"] = str(len(response.content))
        list_page.add_x_cache_header(response, task_cache)
        # As Django's CsrfViewMiddleware does whenever a page uses the token: the cookie is sent
        # again (its expiry renewed), with the same attributes.
        response.set_cookie(
            settings.CSRF_COOKIE_NAME,
            secret,
            max_age=settings.CSRF_COOKIE_AGE,
            domain=settings.CSRF_COOKIE_DOMAIN,
            path=settings.CSRF_COOKIE_PATH,
            secure=settings.CSRF_COOKIE_SECURE,
            httponly=settings.CSRF_COOKIE_HTTPONLY,
            samesite=settings.CSRF_COOKIE_SAMESITE,
        )
        patch_vary_headers(response, ("Cookie",))
        return response
