"""gunicorn as production runs it: HEAD gets the headers of a GET and no body, with nothing in the log;
each instance has a control socket of its own."""

import time

import pytest

from testsupport.gunicorn import GunicornInstance
from testsupport.http import Visitor

pytestmark = pytest.mark.gunicorn


def test_head_is_answered_with_the_get_headers_no_body_and_no_warning(app_env, tmp_path):
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "w") as log:
        instance = GunicornInstance(app_env, workers=1, log=log).start()
        try:
            visitor = Visitor(instance.port)
            visitor.get("/")  # a session and a CSRF cookie, so both answers carry the same token length
            get = visitor.request("GET", "/")
            head = visitor.request("HEAD", "/")
        finally:
            instance.stop()
    assert head.status == get.status == 200
    assert head.text == ""
    assert head.headers["Content-Length"] == str(len(get.text.encode()))
    assert head.headers["Content-Type"] == get.headers["Content-Type"]
    assert "X-Cache" in head.headers
    assert "no-body response" not in log_path.read_text()


def test_each_instance_on_a_machine_has_its_own_control_socket_whatever_it_binds(app_env):
    from pathlib import Path

    instances = [GunicornInstance(app_env, workers=1) for _ in range(2)]
    for instance in instances:
        instance.env["PORT"] = "8080"  # the same for both, as when a process manager passes -b
        instance.start()
    try:
        sockets = [Path(f"~/.gunicorn/gunicorn-{instance.process.pid}.ctl").expanduser() for instance in instances]
        deadline = time.monotonic() + 10  # the master opens it just after it starts listening
        while not all(socket.is_socket() for socket in sockets):
            assert time.monotonic() < deadline, f"no control socket at {sockets}"
            time.sleep(0.1)
    finally:
        for instance in instances:
            instance.stop()


def test_clients_that_trickle_their_headers_do_not_stall_other_requests(app_env):
    """Ten connections sending one header byte a second, as a slowloris attack does, on the
    app as `gunicorn django_tasklist.wsgi` starts it (gunicorn.conf.py's worker class)."""
    import socket
    import threading

    instance = GunicornInstance(app_env, workers=2).start()
    stop = threading.Event()

    def trickle():
        with socket.create_connection(("127.0.0.1", instance.port)) as connection:
            connection.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            while not stop.wait(1):
                try:
                    connection.sendall(b"X")
                except OSError:
                    return

    trickling = [threading.Thread(target=trickle, daemon=True) for _ in range(10)]
    try:
        for thread in trickling:
            thread.start()
        time.sleep(2)  # every slow connection accepted and holding whatever it holds
        slowest = 0.0
        for _ in range(10):
            started = time.monotonic()
            assert Visitor(instance.port, timeout=5).get("/").status == 200
            slowest = max(slowest, time.monotonic() - started)
    finally:
        stop.set()
        instance.stop()
    assert slowest < 1.0, f"a request took {slowest:.2f} s behind the slow clients"


def test_a_line_break_in_a_basic_auth_user_forges_no_access_log_line(app_env, tmp_path):
    import base64

    log_path = tmp_path / "gunicorn.log"
    forged = 'alice\n127.0.0.1 - - [01/Jan/2030:00:00:00 +0000] "GET /forged HTTP/1.1" 200'
    with open(log_path, "w") as log:
        instance = GunicornInstance(app_env, workers=1, log=log, access_log=True).start()
        try:
            credentials = base64.b64encode(f"{forged}:password".encode()).decode()
            Visitor(instance.port).request("GET", "/", headers={"Authorization": f"Basic {credentials}"})
        finally:
            instance.stop()
    lines = log_path.read_text().splitlines()
    assert any('"GET / HTTP/1.1" 200' in line for line in lines), "the request is in the access log"
    assert not any("/forged" in line for line in lines)
