"""What an attacker tries, over real HTTP against gunicorn in production mode (PostgreSQL, SASL memcached)."""

import time

import pytest

from testsupport.gunicorn import GunicornInstance, create_staff_user
from testsupport.http import Visitor
from testsupport.pages import task_names

pytestmark = pytest.mark.gunicorn

LOGIN_COOLOFF_SECONDS = 3
WRITES_PER_MINUTE = 3


@pytest.fixture(scope="module")
def app(app_env, tmp_path_factory):
    log_path = tmp_path_factory.mktemp("hardening") / "app.log"
    env = {
        **app_env,
        "DJANGO_SECURE_SSL_REDIRECT": "False",
        "TASKLIST_X_CACHE_HEADER": "",  # production's default
        "TASKLIST_ANON_WRITES_PER_MINUTE": str(WRITES_PER_MINUTE),
        "TASKLIST_CLIENT_IP_HEADER": "DO-Connecting-IP",
        "TASKLIST_LOGIN_FAILURE_LIMIT": "3",
        "TASKLIST_LOGIN_COOLOFF_SECONDS": str(LOGIN_COOLOFF_SECONDS),
    }
    create_staff_user(env, "guarded", "the-right-password-123")
    with open(log_path, "w") as log:
        instance = GunicornInstance(env, workers=1, log=log).start()
        instance.log_path = log_path
        yield instance
        instance.stop()


def from_client(port: int, address: str, **headers: str) -> Visitor:
    """A visitor whose address App Platform's edge reports as ``address``."""
    return Visitor(port, headers={"DO-Connecting-IP": address, **headers})


def try_login(visitor: Visitor, password: str):
    token = visitor.request("GET", "/admin/login/").csrf_tokens()[0]
    form = {"csrfmiddlewaretoken": token, "username": "guarded", "password": password, "next": "/admin/"}
    return visitor.request("POST", "/admin/login/?next=/admin/", form)


def test_repeated_wrong_passwords_lock_the_login_out_for_that_client_then_it_ends(app):
    attacker = from_client(app.port, "203.0.113.7")
    for _ in range(2):
        assert try_login(attacker, "a-wrong-guess").status == 200  # the form again, with its error
    assert try_login(attacker, "a-wrong-guess").status == 429, "the third failure locks"
    locked = try_login(attacker, "the-right-password-123")
    assert locked.status == 429
    assert "Too many failed logins" in locked.text
    # Another client is not locked out, and the attacker cannot pass as one by a header of its own.
    assert try_login(from_client(app.port, "198.51.100.2"), "the-right-password-123").status == 302
    spoofing = from_client(app.port, "203.0.113.7", **{"X-Forwarded-For": "198.51.100.99", "X-Real-IP": "198.51.100.9"})
    assert try_login(spoofing, "the-right-password-123").status == 429
    time.sleep(LOGIN_COOLOFF_SECONDS + 0.5)
    assert try_login(attacker, "the-right-password-123").status == 302, "the lockout ends"


def test_anonymous_writes_are_limited_per_client_with_a_429_page(app):
    flooder = from_client(app.port, "203.0.113.50")
    # Start at the beginning of a minute's window, so that the count is not split across two.
    time.sleep(60 - time.time() % 60 + 0.1 if time.time() % 60 > 50 else 0)
    answers = [flooder.post("/add", {"name": f"flood {n}"}).status for n in range(WRITES_PER_MINUTE + 2)]
    assert answers == [302] * WRITES_PER_MINUTE + [429, 429]
    refused = flooder.post("/add", {"name": "one more"})
    assert "Too many changes at once" in refused.text
    assert 1 <= int(refused.headers["Retry-After"]) <= 61
    assert sum(name.startswith("flood") for name in task_names(flooder.get("/").text)) == WRITES_PER_MINUTE
    assert from_client(app.port, "198.51.100.60").post("/add", {"name": "someone else"}).status == 302


def test_a_form_carrying_a_file_is_refused_before_it_is_stored(app):
    visitor = Visitor(app.port)
    token = visitor.get("/").csrf_tokens()[0]
    boundary = "----tasklist"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n{token}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\nwith a file\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="upload"; filename="big.bin"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n{'x' * 30_000}\r\n--{boundary}--\r\n"
    )
    response = visitor.request(
        "POST", "/add", headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}, raw_body=body
    )
    assert response.status == 400
    assert "Files are not accepted" in response.text
    assert "with a file" not in task_names(visitor.get("/").text)


def test_a_large_body_is_refused_unread(app):
    import socket

    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", app.port), timeout=5) as connection:
        connection.sendall(
            b"POST /add HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-Proto: https\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 52428800\r\n\r\nname=x"
        )
        answer = connection.recv(4096).decode()
    assert answer.startswith("HTTP/1.1 413")
    assert time.monotonic() - started < 2, "answered without waiting for 50 MB"


def test_an_unknown_host_is_one_warning_line_not_a_traceback(app):
    before = app.log_path.read_text()
    response = Visitor(app.port).request("GET", "/", headers={"Host": "evil.example"})
    assert response.status == 400
    time.sleep(0.2)
    logged = app.log_path.read_text()[len(before) :]
    [line] = [line for line in logged.splitlines() if "django.security" in line]
    assert " WARNING django.security.DisallowedHost Invalid HTTP_HOST header" in line
    assert "Traceback" not in logged


def test_production_shows_neither_x_cache_nor_browser_features(app):
    response = Visitor(app.port).get("/")
    assert "X-Cache" not in response.headers, "it would tell anyone that someone just wrote"
    assert "camera=()" in response.headers["Permissions-Policy"]
    assert "geolocation=()" in response.headers["Permissions-Policy"]


def test_a_line_break_in_a_path_forges_no_line_of_the_app_log(app):
    before = app.log_path.read_text()
    forged = "2030-01-01 00:00:00,000 ERROR django forged"
    assert Visitor(app.port).request("GET", "/nothing%0D%0A" + forged.replace(" ", "%20")).status == 404
    time.sleep(0.2)
    logged = app.log_path.read_text()[len(before) :]
    assert "Not Found" in logged
    assert not any(line.startswith("2030-01-01") for line in logged.splitlines())
