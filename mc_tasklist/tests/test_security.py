"""Production settings, checked over real HTTP against gunicorn behind a simulated App Platform proxy."""

import re

import pytest

from testsupport.http import Visitor

pytestmark = pytest.mark.gunicorn


@pytest.fixture(scope="module")
def app(app_env):
    from testsupport.gunicorn import GunicornInstance

    instance = GunicornInstance(app_env, workers=1).start()
    yield instance
    instance.stop()


def cookie_attributes(response, name) -> str:
    for header in response.headers.get_all("Set-Cookie") or []:
        if header.startswith(f"{name}="):
            return header.lower()
    raise AssertionError(f"no {name} cookie set")


def test_plain_http_from_the_proxy_is_redirected_to_https(app):
    response = Visitor(app.port).request("GET", "/add?x=1", headers={"X-Forwarded-Proto": "http"})
    assert response.status == 301
    assert response.headers["Location"] == f"https://127.0.0.1:{app.port}/add?x=1"


def test_https_responses_carry_hsts_nosniff_referrer_policy_and_frame_denial(app):
    response = Visitor(app.port).get("/")
    assert response.status == 200
    assert re.fullmatch(r"max-age=\d+; includeSubDomains", response.headers["Strict-Transport-Security"])
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_the_content_security_policy_allows_nothing_inline_and_nothing_foreign(app):
    policy = Visitor(app.port).get("/").headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert "form-action 'self'" in policy


def test_the_page_satisfies_the_policy_no_inline_script_or_style(app):
    page = Visitor(app.port).get("/").text
    assert "<script" not in page
    assert "<style" not in page
    assert " style=" not in page
    assert not re.search(r"""(src|href)=["']https?://""", page), "every asset comes from the app"


def test_cookies_are_host_only_secure_httponly_and_samesite(app, app_env):
    from testsupport.gunicorn import create_staff_user
    from testsupport.http import log_in

    visitor = Visitor(app.port)
    response = visitor.get("/")
    csrf = cookie_attributes(response, "__Host-csrftoken")
    token = response.csrf_tokens()[0]
    messages = cookie_attributes(
        visitor.post("/add", {"name": "cookie check", "csrfmiddlewaretoken": token}), "__Host-messages"
    )
    create_staff_user(app_env, "cookies", "a-long-password-123")
    session = cookie_attributes(log_in(Visitor(app.port), "cookies", "a-long-password-123"), "__Host-sessionid")
    for attributes in (csrf, messages, session):
        assert "; secure" in attributes
        assert "; httponly" in attributes
        assert "samesite=lax" in attributes
        assert "domain=" not in attributes
        assert "; path=/" in attributes


def test_no_response_deletes_a_cookie_the_request_did_not_send(app):
    """Django's message storage sent `messages=""; Max-Age=0` with every list page, to every visitor."""
    visitor = Visitor(app.port)
    for response in (visitor.get("/"), visitor.get("/"), Visitor(app.port).get("/?after=0")):
        assert not [cookie for cookie in response.headers.get_all("Set-Cookie") or [] if "max-age=0" in cookie.lower()]


def test_an_anonymous_write_stores_no_session(app):
    visitor = Visitor(app.port)
    response = visitor.post("/add", {"name": "no session needed"})
    assert response.status == 302
    assert "__Host-sessionid" not in visitor.cookies
    assert "no session needed" in visitor.get("/").text, "the flash message came in a signed cookie"


def test_no_browser_or_shared_proxy_may_store_the_per_visitor_page(app):
    response = Visitor(app.port).get("/")
    cache_control = {part.strip() for part in response.headers["Cache-Control"].split(",")}
    assert {"private", "no-store", "no-cache", "max-age=0"} <= cache_control


def test_error_pages_show_no_traceback_or_settings(app):
    response = Visitor(app.port).get("/no-such-page")
    assert response.status == 404
    assert "Traceback" not in response.text
    assert "DJANGO_SECRET_KEY" not in response.text
