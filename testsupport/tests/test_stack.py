"""`make stack`: the production topology comes up behind one port, and Ctrl-C leaves nothing behind."""

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from testsupport.gunicorn import REPO
from testsupport.http import Visitor, log_in
from testsupport.ports import free_port, wait_for_port

pytestmark = pytest.mark.gunicorn


def descendants(pid: int) -> set[int]:
    """Every process started under ``pid``, however deep, as /proc tells it now."""
    found, frontier = set(), [pid]
    while frontier:
        parent = frontier.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            children = (task / "children").read_text().split() if (task / "children").exists() else []
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    frontier.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ")[-1][0] != "Z"


def scratch_directories() -> set[Path]:
    """What the servers write: PostgreSQL's cluster, memcached's SASL database, nginx's config and temp files."""
    tmp = Path(tempfile.gettempdir())
    return {*tmp.glob("bench-postgres-*"), *tmp.glob("sasl-memcached-*"), *tmp.glob("tasklist-nginx-*")}


@pytest.mark.parametrize(
    "to_the_group", [True, False], ids=["ctrl-c-to-the-terminal's-group", "sigterm-to-the-stack-alone"]
)
def test_the_stack_serves_through_one_port_and_stopping_it_stops_everything(to_the_group):
    before = scratch_directories()
    port = free_port()
    stack = subprocess.Popen(
        [sys.executable, "-m", "testsupport.stack", "--port", str(port)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    try:
        banner = ""
        while "Ctrl-C" not in banner:
            line = stack.stdout.readline()
            assert line, f"the stack exited with {stack.poll()} before it was ready"
            banner += line
        wait_for_port(port)
        assert f"http://localhost:{port}/" in banner
        password = banner.split("with the password '")[1].split("'")[0]
        deadline = time.monotonic() + 10
        while len(started := descendants(stack.pid)) < 8 and time.monotonic() < deadline:
            time.sleep(0.1)  # gunicorn's masters fork their workers after they listen
        assert len(started) >= 8, "nginx, 2 gunicorn masters with 2 workers each, memcached, ..."

        visitor = Visitor(port, scheme="http")  # nginx tells the app the truth: no TLS here
        assert visitor.get("/").status == 200
        token = visitor.last_page.csrf_tokens()[0]
        assert visitor.request("POST", "/add", {"name": "Through nginx", "csrfmiddlewaretoken": token}).status == 302
        assert "Through nginx" in Visitor(port, scheme="http").get("/").text, "every instance serves the change"
        log_in(visitor, "admin", password, "/stats/")
        assert "Cache statistics" in visitor.request("GET", "/stats/").text
    finally:
        if to_the_group:
            os.killpg(stack.pid, signal.SIGINT)  # what Ctrl-C sends to the terminal's foreground group
        else:
            stack.terminate()  # the stack alone must stop what it started
        stack.wait(timeout=60)
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in started) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert stack.returncode == 0
    assert [pid for pid in started if alive(pid)] == [], "nothing left running"
    assert scratch_directories() <= before, "nothing left on disk"
