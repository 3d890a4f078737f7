"""A visitor's CSRF token and cookie for a page the fast path serves (page_hits.py), made as
Django's CsrfViewMiddleware makes them, without its per-request machinery.

The one place that knows Django's scheme: a secret of CSRF_SECRET_LENGTH
characters kept in the visitor's cookie, and in the page a token that is a
fresh random mask followed by the secret shifted by it (django/middleware/csrf.py).
test_csrf_tokens.py holds this module to Django's own functions, so that a
Django upgrade that changes the scheme fails a test, not the visitors' forms.

Django draws its random strings one character at a time (``get_random_string``);
here the mask and a new secret come from one ``os.urandom`` call each, turned into
characters by one ``bytes.translate``.
"""

import os
import time

from django.conf import settings
from django.http import HttpResponse
from django.middleware.csrf import CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH

_CHAR_INDEX = {char: index for index, char in enumerate(CSRF_ALLOWED_CHARS)}
# Random bytes at or above this are dropped, so that every character is equally likely.
_UNBIASED_BELOW = 256 - 256 % len(CSRF_ALLOWED_CHARS)
_TO_CHARACTER = bytes(ord(CSRF_ALLOWED_CHARS[byte % len(CSRF_ALLOWED_CHARS)]) for byte in range(256))
_BIASED = bytes(range(_UNBIASED_BELOW, 256))


def random_string() -> str:
    """CSRF_SECRET_LENGTH characters of CSRF_ALLOWED_CHARS, uniformly from the OS's random source."""
    chosen = b""
    while len(chosen) < CSRF_SECRET_LENGTH:
        # Each byte below _UNBIASED_BELOW to its character, the others dropped: in C, not a loop a byte at a time.
        chosen += os.urandom(48).translate(_TO_CHARACTER, _BIASED)
    return chosen[:CSRF_SECRET_LENGTH].decode("ascii")


def masked_token(secret: str) -> str:
    """The token for ``secret`` that goes in the page: a random mask, then the secret shifted by it."""
    mask = random_string()
    size = len(CSRF_ALLOWED_CHARS)
    return mask + "".join(
        CSRF_ALLOWED_CHARS[(_CHAR_INDEX[s] + _CHAR_INDEX[m]) % size] for s, m in zip(secret, mask, strict=True)
    )


def visitor_secret(cookies: dict[str, str]) -> str | None:
    """The secret in the visitor's CSRF cookie (``cookies``: the request's), if it is one Django would accept
    as it stands."""
    secret = cookies.get(settings.CSRF_COOKIE_NAME, "")
    return secret if len(secret) == CSRF_SECRET_LENGTH and all(c in _CHAR_INDEX for c in secret) else None


def set_cookie(response: HttpResponse, secret: str) -> None:
    """As the middleware does whenever a page uses the token: the cookie sent again, its expiry renewed."""
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


# Stands for the secret in a cookie made by set_cookie: cookie-safe, and no character of Django's alphabet.
_SECRET_PLACEHOLDER = "_" * CSRF_SECRET_LENGTH
_cookie_template: tuple[tuple, str] = ((), "")


def cookie_header(secret: str) -> str:
    """The Set-Cookie value set_cookie gives ``secret``, without an HttpResponse per request.

    Made by set_cookie itself once a second (its Expires has a resolution of one second),
    then the secret put in: the same header, at a sixth of the cost.
    """
    global _cookie_template
    made_for, template = _cookie_template
    # The second, and the settings it reads (the tests change them).
    now = (int(time.time()), settings.CSRF_COOKIE_NAME, settings.CSRF_COOKIE_SECURE, settings.CSRF_COOKIE_DOMAIN)
    if made_for != now:
        response = HttpResponse()
        set_cookie(response, _SECRET_PLACEHOLDER)
        template = response.cookies[settings.CSRF_COOKIE_NAME].output(header="").lstrip()
        _cookie_template = (now, template)
    return template.replace(_SECRET_PLACEHOLDER, secret, 1)
