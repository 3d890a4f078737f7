"""The rule every cached read follows: an entry is served only for the version the database held
less than a window ago, and a write answers a window after its commit.

Two gunicorn instances of two workers each, one PostgreSQL, the SASL memcached.
Each read is a new connection, so any worker of the instance may answer it;
many reads reach every worker.
"""

import time

import psycopg
import pytest
from django.core.cache import cache

from mc_tasklist.caching import keys
from mc_tasklist.paging import FIRST
from testsupport.http import Visitor
from testsupport.pages import task_names

pytestmark = pytest.mark.gunicorn

READS = 12  # per instance after each write: new connections, so both workers answer some


def page(instance) -> str:
    response = Visitor(instance.port).get("/")
    assert response.status == 200, response.status
    return response.text


def names_shown(instance) -> list[str]:
    return task_names(page(instance))


def warm(*instances) -> None:
    """Every worker has read the list's version and kept its copy of the page."""
    for instance in instances:
        for _ in range(READS):
            names_shown(instance)


def list_version(app_env) -> int:
    with psycopg.connect(app_env["DATABASE_URL"]) as database:
        return database.execute("SELECT version FROM mc_tasklist_taskcount WHERE id = 1").fetchone()[0]


@pytest.mark.parametrize("window_ms", [5, 1000])
def test_a_read_that_starts_after_a_writes_redirect_shows_it_on_every_worker_of_both_instances(instances, window_ms):
    """With the window at a second, every process trusts a version it read up to a second ago: only the
    writer's wait makes the reads right after its redirect exact."""
    first, second = instances(TASKLIST_VERSION_WINDOW_MS=window_ms)
    for round_number in range(3):
        name = f"window {window_ms} ms, round {round_number}"
        warm(first, second)
        posted = time.monotonic()
        assert Visitor(first.port).post("/add", {"name": name}).status == 302
        answered = time.monotonic()
        for instance in (second, first) * (READS // 2):
            assert name in names_shown(instance)
        assert answered - posted >= window_ms / 1000, "the redirect waited out the window"


@pytest.mark.parametrize("strategy", ["update", "delete", "version"])
def test_an_entry_stamped_with_another_version_is_never_served(instances, app_env, strategy):
    """Stored by hand into memcached, under the very key the next reads ask for, before any process read it."""
    cache.clear()
    first, second = instances(TASKLIST_INVALIDATION=strategy)
    assert Visitor(first.port).post("/add", {"name": f"the real list ({strategy})"}).status == 302
    version = list_version(app_env)
    key = keys.page_key(FIRST, None if strategy == "delete" else version)
    for stamped in (version - 1, version + 1):
        cache.set(key, (stamped, b"<table><tr><td>Planted</td></tr></table>"))
        for instance in (first, second) * (READS // 2):
            assert "Planted" not in page(instance)
    # The same entry stamped with the version it is read for is served: the judge is the stamp alone.
    cache.set(key, (version, b"<table><tr><td>Planted</td></tr></table>"))
    fresh = instances(TASKLIST_INVALIDATION=strategy)  # processes with no copy of their own yet
    assert "Planted" in page(fresh[0])


@pytest.mark.parametrize("strategy", ["update", "delete"])
def test_a_frozen_memcached_resumed_holding_entries_from_before_a_write_serves_none_of_them(
    instances, memcached, strategy
):
    first, second = instances(TASKLIST_INVALIDATION=strategy)
    for round_number in range(2):
        name = f"written while frozen ({strategy}, {round_number})"
        warm(first, second)
        memcached.pause()
        try:
            assert Visitor(first.port).post("/add", {"name": name}).status == 302
        finally:
            memcached.resume()
        for instance in (second, first) * (READS // 2):
            assert name in names_shown(instance)


def test_a_process_copy_of_a_page_is_never_served_after_a_write_acknowledged_elsewhere(instances):
    first, second = instances(TASKLIST_X_CACHE_HEADER="True")
    # Which worker takes a new connection is up to them: read until READS reads in a row come from a
    # worker's own copy (a worker that had none answers from memcached once, and keeps one).
    served = []
    while served[-READS:] != ["page=process-hit"] * READS:
        assert len(served) < 20 * READS, f"every worker of the reading instance holds its copy: {served}"
        served.append(Visitor(second.port).get("/").headers["X-Cache"])
    for round_number in range(5):
        name = f"acknowledged elsewhere {round_number}"
        assert Visitor(first.port).post("/add", {"name": name}).status == 302
        for _ in range(READS):
            assert name in names_shown(second)
