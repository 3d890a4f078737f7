"""The fast path (mc_tasklist/page_hits.py): what a warm page hit skips, and what it still does.

Over real HTTP against gunicorn in production mode, PostgreSQL and the SASL memcached.
"""

import json
import time

import pytest

from testsupport.gunicorn import GunicornInstance, create_staff_user
from testsupport.http import Visitor, log_in

pytestmark = pytest.mark.gunicorn

PER_RESPONSE = {"date", "expires", "set-cookie", "content-length", "x-cache"}


@pytest.fixture(scope="module")
def apps(app_env, tmp_path_factory):
    """The same app twice on one database and cache: with the fast path, and with every request through Django."""
    log_path = tmp_path_factory.mktemp("page-hits") / "fast.log"
    with open(log_path, "w") as log:
        # A hit's request log line is at DEBUG (page_hits.py): the tests read it to tell the paths apart.
        fast = GunicornInstance({**app_env, "TASKLIST_LOG_LEVEL": "DEBUG"}, workers=1, log=log).start()
        django = GunicornInstance({**app_env, "TASKLIST_FAST_PAGE_HITS": "False"}, workers=1).start()
        fast.log_path = log_path
        yield fast, django
        fast.stop()
        django.stop()


def served_fast(instance) -> list[bool]:
    """For each list request the fast instance logged: did the fast path answer it?"""
    return [
        json.loads(line.split(" mc_tasklist.requests ", 1)[1]).get("fast_path", False)
        for line in settled_log(instance.log_path).splitlines()
        if " mc_tasklist.requests " in line
    ]


def settled_log(path) -> str:
    """The log once its writer thread has caught up (records are written off the request: logs.py)."""
    deadline = time.monotonic() + 2
    text = path.read_text()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        again = path.read_text()
        if again == text:
            return text
        text = again
    return text


def replayed(response) -> dict:
    headers = {name.lower(): value for name, value in response.headers.items() if name.lower() not in PER_RESPONSE}
    # django-csp writes its directives in no fixed order from one process to the next.
    headers["content-security-policy"] = sorted(headers["content-security-policy"].split("; "))
    return headers


def test_a_warm_hit_skips_django_and_carries_the_same_headers(apps):
    fast, django = apps
    Visitor(fast.port).get("/")  # a miss: through Django, which fills the page and shows the headers
    hit = Visitor(fast.port).get("/")
    through_django = Visitor(django.port).get("/")
    assert served_fast(fast)[-2:] == [False, True]
    assert hit.headers["X-Cache"] == "page=process-hit", "the miss left this worker its copy"
    assert through_django.headers["X-Cache"] in ("page=hit", "page=process-hit")
    assert replayed(hit) == replayed(through_django)
    assert hit.headers["Content-Length"] == str(len(hit.text.encode()))
    for header in ["Content-Security-Policy", "Permissions-Policy", "Strict-Transport-Security", "Cache-Control"]:
        assert hit.headers[header], header
    assert hit.text.replace(hit.csrf_tokens()[0], "") == through_django.text.replace(
        through_django.csrf_tokens()[0], ""
    ), "the same page, each with its visitor's token"


def test_each_visitor_of_a_fast_hit_gets_their_own_token_and_cookie_and_the_token_works(apps):
    fast, _ = apps
    Visitor(fast.port).get("/")
    alice, bob = Visitor(fast.port), Visitor(fast.port)
    alice_page, bob_page = alice.get("/"), bob.get("/")
    assert served_fast(fast)[-2:] == [True, True]
    assert alice_page.csrf_tokens()[0] != bob_page.csrf_tokens()[0]
    assert alice.cookies["__Host-csrftoken"] != bob.cookies["__Host-csrftoken"]
    cookie = next(h for h in alice_page.headers.get_all("Set-Cookie") if h.startswith("__Host-csrftoken="))
    assert all(part in cookie.lower() for part in ["; secure", "; httponly", "samesite=lax", "path=/"])
    assert alice.post("/add", {"name": "posted with a fast-path token"}).status == 302
    secret = alice.cookies["__Host-csrftoken"]
    alice.get("/")  # the message, put into a hit
    again = alice.get("/")
    assert served_fast(fast)[-1] is True
    assert alice.cookies["__Host-csrftoken"] == secret, "a returning visitor keeps their secret"
    assert again.csrf_tokens()[0] != alice_page.csrf_tokens()[0], "with a new mask on every page"
    assert alice.post("/add", {"name": "posted with a returning visitor's token"}).status == 302
    assert Visitor(fast.port).request("POST", "/add", {"name": "no token"}).status == 403


def test_the_redirect_after_a_write_is_a_hit_that_shows_the_message_once(apps):
    fast, _ = apps
    visitor = Visitor(fast.port)
    assert visitor.post("/add", {"name": "with a message"}).status == 302
    Visitor(fast.port).get("/")  # the first page, as anyone keeps it cached
    page = visitor.get("/")
    assert served_fast(fast)[-1] is True
    assert "Added “with a message”." in page.text
    assert "__Host-messages" not in visitor.cookies, "the message cookie is cleared, as Django clears it"
    again = visitor.get("/")
    assert "Added" not in again.text
    assert served_fast(fast)[-1] is True


def test_a_visitor_with_a_session_goes_through_django(apps, app_env):
    fast, _ = apps
    create_staff_user(app_env, "fast-path-staff", "a-long-password-123")
    staff = Visitor(fast.port)
    log_in(staff, "fast-path-staff", "a-long-password-123")
    staff.get("/")
    assert served_fast(fast)[-1] is False


def test_the_host_and_https_rules_still_apply_to_a_hit(apps):
    fast, _ = apps
    Visitor(fast.port).get("/")
    assert Visitor(fast.port).request("GET", "/", headers={"Host": "evil.example"}).status == 400
    plain = Visitor(fast.port).request("GET", "/", headers={"X-Forwarded-Proto": "http"})
    assert plain.status == 301
    assert plain.headers["Location"].startswith("https://")
