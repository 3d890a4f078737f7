"""The fast path's CSRF token and cookie are Django's: each side accepts what the other makes.

Against Django's own CsrfViewMiddleware and its private helpers, so that a Django
upgrade that changes the scheme fails here first.
"""

import re
from collections import Counter
from http.cookies import SimpleCookie

import pytest
from django.conf import settings
from django.http import HttpResponse
from django.middleware.csrf import (
    CSRF_ALLOWED_CHARS,
    CsrfViewMiddleware,
    _unmask_cipher_token,
    get_token,
)
from django.test import RequestFactory

from mc_tasklist import csrf_tokens

pytestmark = pytest.mark.fast
COOKIE_ATTRIBUTES = ("max-age", "domain", "path", "secure", "httponly", "samesite")


def post_with(secret: str, token: str):
    request = RequestFactory().post("/add", {"name": "x", "csrfmiddlewaretoken": token})
    request.COOKIES[settings.CSRF_COOKIE_NAME] = secret
    return request


def accepted_by_django(request) -> bool:
    middleware = CsrfViewMiddleware(lambda request: HttpResponse())
    middleware.process_request(request)
    return middleware.process_view(request, lambda request: HttpResponse(), (), {}) is None


def test_a_token_made_here_is_accepted_by_django_s_middleware():
    secret = csrf_tokens.random_string()
    assert accepted_by_django(post_with(secret, csrf_tokens.masked_token(secret)))
    assert not accepted_by_django(post_with(csrf_tokens.random_string(), csrf_tokens.masked_token(secret)))


def test_a_token_is_django_s_masking_of_the_secret_with_a_new_mask_each_time():
    secret = csrf_tokens.random_string()
    first, second = csrf_tokens.masked_token(secret), csrf_tokens.masked_token(secret)
    assert len(first) == 64 and set(first) <= set(CSRF_ALLOWED_CHARS)
    assert _unmask_cipher_token(first) == _unmask_cipher_token(second) == secret
    assert first != second


def test_the_secret_django_keeps_in_its_cookie_is_read_here_and_a_bad_one_is_not():
    request = RequestFactory().get("/")
    get_token(request)  # Django makes a secret for the visitor, as a page with a form does
    response = CsrfViewMiddleware(lambda request: HttpResponse()).process_response(request, HttpResponse())
    returning = RequestFactory().get("/")
    returning.COOKIES[settings.CSRF_COOKIE_NAME] = response.cookies[settings.CSRF_COOKIE_NAME].value
    assert csrf_tokens.visitor_secret(returning.COOKIES) == response.cookies[settings.CSRF_COOKIE_NAME].value
    for bad in ("", "short", "!" * 32, "a" * 33):
        returning.COOKIES[settings.CSRF_COOKIE_NAME] = bad
        assert csrf_tokens.visitor_secret(returning.COOKIES) is None


@pytest.mark.parametrize("production", [False, True])
def test_the_cookie_has_exactly_the_attributes_django_gives_it(settings, production):
    if production:
        settings.CSRF_COOKIE_SECURE = True
        settings.CSRF_COOKIE_HTTPONLY = True
        settings.CSRF_COOKIE_SAMESITE = "Strict"
        settings.CSRF_COOKIE_DOMAIN = "example.com"
    request = RequestFactory().get("/")
    get_token(request)
    django_cookie = CsrfViewMiddleware(lambda r: HttpResponse()).process_response(request, HttpResponse()).cookies
    ours = HttpResponse()
    csrf_tokens.set_cookie(ours, django_cookie[settings.CSRF_COOKIE_NAME].value)
    assert {name: ours.cookies[settings.CSRF_COOKIE_NAME][name] for name in COOKIE_ATTRIBUTES} == {
        name: django_cookie[settings.CSRF_COOKIE_NAME][name] for name in COOKIE_ATTRIBUTES
    }
    assert SimpleCookie(ours.cookies.output(header="")).keys() == {settings.CSRF_COOKIE_NAME}


@pytest.mark.parametrize("production", [False, True])
def test_the_cookie_header_of_the_fast_path_is_set_cookie_s_own(settings, production):
    if production:
        settings.CSRF_COOKIE_SECURE = True
        settings.CSRF_COOKIE_NAME = "__Host-csrftoken"
    secret = csrf_tokens.random_string()
    response = HttpResponse()
    csrf_tokens.set_cookie(response, secret)
    header = csrf_tokens.cookie_header(secret)
    made_by_set_cookie = response.cookies[settings.CSRF_COOKIE_NAME].output(header="").lstrip()
    expires = re.compile(r"expires=[^;]+; ")  # the same second, unless a second turned in between
    assert expires.sub("", header) == expires.sub("", made_by_set_cookie)
    assert SimpleCookie(header)[settings.CSRF_COOKIE_NAME].value == secret


def test_secrets_are_drawn_uniformly_from_django_s_alphabet():
    counts = Counter("".join(csrf_tokens.random_string() for _ in range(2000)))
    assert set(counts) == set(CSRF_ALLOWED_CHARS)
    assert max(counts.values()) / min(counts.values()) < 1.35, "no character noticeably likelier"
