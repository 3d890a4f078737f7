"""Bad input gets the same answer from `make run`'s server (Django's runserver, on wsgiref) as from gunicorn.

wsgiref checks what gunicorn tolerates: a WSGI application may not set a
hop-by-hop header, and one that does gets a 500 there.
"""

import socket
import subprocess
import sys

import pytest

from testsupport.gunicorn import REPO
from testsupport.ports import free_port, wait_for_port

pytestmark = pytest.mark.gunicorn


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


def status_of(port: int, head: bytes, body: bytes) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(head + body)
        return connection.recv(4096).decode(errors="replace").split("\r\n", 1)[0]


def test_a_three_megabyte_name_is_a_413_not_a_500(runserver):
    body = b"name=" + b"x" * 3_000_000
    head = (
        b"POST /add HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
    )
    assert status_of(runserver, head, body).startswith("HTTP/1.1 413")


def test_a_form_with_a_five_megabyte_file_is_a_413_not_a_500(runserver):
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
    assert status_of(runserver, head, body).startswith("HTTP/1.1 413")
