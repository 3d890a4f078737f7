"""A write is seen by every instance within a second, whatever part of the cache fails.

Two gunicorn instances on one PostgreSQL and one SASL memcached, as on App
Platform. Instance A, which writes, reaches memcached through a proxy that can
cut it off or stall it; instance B reaches it directly (or, where the node
itself is gone for everyone, through a proxy of its own). B's page is cached
before each write, so B would go on serving it until the TTL (60 s) if its
entry were judged by its presence. The writer cannot remove or replace it: its
cache is unreachable, or it is dead. B must not serve it anyway, because the
entry names a version older than the database's (mc_tasklist/caching/).
"""

import os
import signal
import threading
import time

import psycopg
import pytest

from testsupport.gunicorn import GunicornInstance
from testsupport.http import Visitor
from testsupport.pages import task_names, tasks_shown
from testsupport.tcp_proxy import TcpProxy

pytestmark = pytest.mark.gunicorn

BOUND = 1.0  # seconds after the acknowledgement
WATCHED_FOR = 2.5  # how long B is read after each write


@pytest.fixture
def cluster(app_env, memcached):
    """cluster(a_workers=2, b_via_proxy=False) -> (A, B, A's proxy, B's proxy or None)."""
    started, proxies = [], []

    def start(*, a_workers: int = 2, b_via_proxy: bool = False, **settings):
        env = {**app_env, "TASKLIST_CACHE_TTL": "60", **{name: str(value) for name, value in settings.items()}}
        proxy_a = TcpProxy(memcached.port).start()
        proxy_b = TcpProxy(memcached.port).start() if b_via_proxy else None
        proxies.extend(p for p in (proxy_a, proxy_b) if p)
        a = GunicornInstance({**env, "MEMCACHIER_SERVERS": proxy_a.server}, workers=a_workers).start(wait=False)
        b_server = proxy_b.server if proxy_b else memcached.server
        b = GunicornInstance({**env, "MEMCACHIER_SERVERS": b_server}, workers=2).start(wait=False)
        started.extend((a, b))
        a.wait_ready()
        b.wait_ready()
        return a, b, proxy_a, proxy_b

    yield start
    for instance in started:
        instance.stop()
    for proxy in proxies:
        proxy.stop()


def page_as_anyone(instance) -> list[str]:
    """What a new visitor sees: no cookies, so the shared page cache answers."""
    response = Visitor(instance.port).get("/")
    assert response.status == 200, response.status
    return task_names(response.text)


def cache_the_page(instance) -> list[str]:
    """Fill the page entry; returns what it shows (the tests share one database, so names differ per test)."""
    for _ in range(6):  # every worker, and the page entry filled
        names = page_as_anyone(instance)
    return names


def add(instance, name: str) -> float:
    """Add a task through the instance; returns when the app acknowledged it."""
    assert Visitor(instance.port).post("/add", {"name": name}).status == 302
    return time.monotonic()


def latest_stale_read(instance, acknowledged: float, shows_the_write) -> float:
    """Read for WATCHED_FOR seconds; how long after the acknowledgement the last stale read started (0: none)."""
    latest = 0.0
    while (started := time.monotonic()) < acknowledged + WATCHED_FOR:
        if not shows_the_write(page_as_anyone(instance)):
            latest = started - acknowledged
        time.sleep(0.02)
    return latest


@pytest.mark.parametrize("strategy", ["delete", "version", "update"])
def test_the_writers_instance_cut_off_from_memcached(cluster, strategy):
    a, b, proxy_a, _ = cluster(TASKLIST_INVALIDATION=strategy)
    name = f"Written while A was cut off, under {strategy}"
    assert name not in cache_the_page(b)
    proxy_a.cut()
    acknowledged = add(a, name)
    stale = latest_stale_read(b, acknowledged, lambda names: name in names)
    assert stale < BOUND, f"B showed the old list {stale:.2f} s after the write was acknowledged"


def test_the_writers_instance_hanging_on_memcached(cluster):
    a, b, proxy_a, _ = cluster()
    cache_the_page(b)
    proxy_a.hang()
    acknowledged = add(a, "Written while A hung")
    stale = latest_stale_read(b, acknowledged, lambda names: "Written while A hung" in names)
    assert stale < BOUND, f"B showed the old list {stale:.2f} s after the write was acknowledged"


def test_a_deletion_by_a_worker_backing_off_after_one_slow_answer(cluster):
    a, b, proxy_a, _ = cluster(a_workers=1)
    add(a, "To be deleted")
    cache_the_page(b)
    # One slow answer: the only worker of A gives up after 0.2 s and skips memcached for 3 s.
    proxy_a.hang()
    page_as_anyone(a)
    proxy_a.unhang()
    visitor = Visitor(a.port)
    task_id = next(task_id for task_id, name in tasks_shown(visitor.get("/").text).items() if name == "To be deleted")
    assert visitor.post("/remove", {"id": task_id}).status == 302
    acknowledged = time.monotonic()
    stale = latest_stale_read(b, acknowledged, lambda names: "To be deleted" not in names)
    assert stale < BOUND, f"B showed the deleted task {stale:.2f} s after the delete was acknowledged"


def test_the_writer_killed_right_after_its_commit(cluster, app_env):
    a, b, proxy_a, _ = cluster(a_workers=1)
    cache_the_page(b)
    # A's cache stalls, so the worker is still waiting to invalidate when it dies.
    proxy_a.hang()
    worker = a.worker_pids()[0]
    threading.Thread(target=lambda: _post_ignoring_the_reset(a, "Committed, then the writer died"), daemon=True).start()
    with psycopg.connect(app_env["DATABASE_URL"], autocommit=True) as database:
        committed = _wait_for_commit(database, "Committed, then the writer died")
        os.kill(worker, signal.SIGKILL)
        stale = latest_stale_read(b, committed, lambda names: "Committed, then the writer died" in names)
    assert stale < BOUND, f"B showed the old list {stale:.2f} s after the commit"


def _post_ignoring_the_reset(instance, name: str) -> None:
    try:
        Visitor(instance.port, timeout=5).post("/add", {"name": name})
    except OSError:
        pass  # the worker was killed mid-request


def _wait_for_commit(database, name: str) -> float:
    deadline = time.monotonic() + 10
    while not database.execute("SELECT 1 FROM mc_tasklist_task WHERE name = %s", [name]).fetchone():
        assert time.monotonic() < deadline, "the write never committed"
        time.sleep(0.005)
    return time.monotonic()


def test_a_node_back_with_old_entries_is_corrected_before_any_process_reads_it(cluster):
    a, b, proxy_a, proxy_b = cluster(b_via_proxy=True)
    cache_the_page(b)
    # The node is gone for everyone, keeping what it holds.
    proxy_a.cut()
    proxy_b.cut()
    acknowledged = add(a, "Written while the node was away")
    time.sleep(1.5)
    proxy_a.restore()
    proxy_b.restore()
    # Every read from now on, through the back-off's end and after, must show it.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        assert "Written while the node was away" in page_as_anyone(b), (
            f"B read the node's old page {time.monotonic() - acknowledged:.2f} s after the write"
        )
        time.sleep(0.02)
