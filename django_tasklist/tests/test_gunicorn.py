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


def test_each_instance_on_a_machine_has_its_own_control_socket(app_env):
    from pathlib import Path

    instances = [GunicornInstance(app_env, workers=1).start() for _ in range(2)]
    try:
        sockets = [Path(f"~/.gunicorn/gunicorn-{instance.port}.ctl").expanduser() for instance in instances]
        deadline = time.monotonic() + 10  # the master opens it just after it starts listening
        while not all(socket.is_socket() for socket in sockets):
            assert time.monotonic() < deadline, f"no control socket at {sockets}"
            time.sleep(0.1)
    finally:
        for instance in instances:
            instance.stop()
