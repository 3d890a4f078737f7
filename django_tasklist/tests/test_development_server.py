"""Bad input gets the same answer from `make run`'s server (Django's runserver, on wsgiref) as from gunicorn:
the whole catalogue of mc_tasklist/tests/test_bad_input.py, and bodies too large to read, on both.

wsgiref checks what gunicorn tolerates: a WSGI application may not set a
hop-by-hop header, and one that does gets a 500 there.
"""

import select
import socket
import subprocess
import sys

import pytest

from mc_tasklist.tests.test_bad_input import BAD_NAMES
from testsupport.gunicorn import REPO, GunicornInstance
from testsupport.http import Visitor
from testsupport.ports import free_port, wait_for_port

pytestmark = pytest.mark.gunicorn
SERVERS = ["runserver", "gunicorn"]
# (what, path, form, the answer): every bad form the public pages can be sent.
CATALOGUE = [(f"name {name!r}", "/add", {"name": name}, 400) for name, _ in BAD_NAMES] + [
    ("no name field", "/add", {}, 400),
    ("id 'abc'", "/remove", {"id": "abc"}, 400),
    ("id '0'", "/remove", {"id": "0"}, 400),
    ("id 2**63", "/remove", {"id": str(2**63)}, 400),
    ("no id", "/remove", {}, 400),
    ("the id of no task", "/remove", {"id": "999999"}, 404),
]


@pytest.fixture(scope="module")
def runserver(app_env):
    port = free_port()
    env = {**app_env, "DJANGO_SECURE_SSL_REDIRECT": "False"}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, timeout=30, process=process)
        yield port
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def gunicorn(app_env):
    instance = GunicornInstance({**app_env, "DJANGO_SECURE_SSL_REDIRECT": "False"}, workers=1).start()
    yield instance.port
    instance.stop()


@pytest.mark.parametrize("server", SERVERS)
def test_every_bad_form_gets_its_4xx(request, server):
    port = request.getfixturevalue(server)
    answers = {what: Visitor(port).post(path, form).status for what, path, form, _ in CATALOGUE}
    assert answers == {what: status for what, _, _, status in CATALOGUE}


@pytest.mark.parametrize("server", SERVERS)
def test_get_on_a_form_action_and_an_unknown_host_get_their_4xx(request, server):
    port = request.getfixturevalue(server)
    assert Visitor(port).get("/add").status == 405
    assert Visitor(port, headers={"Host": "evil.example"}).get("/").status == 400


def status_of(port: int, head: bytes, body: bytes) -> str:
    """The status line, sending the body only until the server answers (gunicorn answers a
    declared body too large at once, unread, and closes the connection)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(head)
        for start in range(0, len(body), 65536):
            if select.select([connection], [], [], 0)[0]:
                break  # the answer came before the rest of the body
            try:
                connection.sendall(body[start : start + 65536])
            except (BrokenPipeError, ConnectionResetError):
                break
        return connection.recv(4096).decode(errors="replace").split("\r\n", 1)[0]


@pytest.mark.parametrize("server", SERVERS)
def test_a_three_megabyte_name_is_a_413_not_a_500(request, server):
    body = b"name=" + b"x" * 3_000_000
    head = (
        b"POST /add HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
    )
    assert status_of(request.getfixturevalue(server), head, body).startswith("HTTP/1.1 413")


@pytest.mark.parametrize("server", SERVERS)
def test_a_form_with_a_five_megabyte_file_is_a_413_not_a_500(request, server):
    boundary = b"----tasklist"
    body = (
        b"--" + boundary + b'\r\nContent-Disposition: form-data; name="upload"; filename="big.bin"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n" + b"x" * 5_000_000 + b"\r\n--" + boundary + b"--\r\n"
    )
    head = (
        b"POST /add HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary="
        + boundary
        + b"\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
    )
    assert status_of(request.getfixturevalue(server), head, body).startswith("HTTP/1.1 413")
