"""No page an instance shows goes back in time: once it has shown a version of the list, an entry
from before it is read from the database instead (caching/newest_shown.py).

The floor itself in this process and across a fork; then a gunicorn instance of
two workers, where a page one worker showed is never followed by an older one from
the other, whatever the cache holds.
"""

import os
import signal
import threading
import time

import pytest
from django.core.cache import cache

from mc_tasklist.caching import keys
from mc_tasklist.caching.newest_shown import NewestShown, newest_shown
from mc_tasklist.caching.read_through import TaskListCache
from mc_tasklist.models import Task
from mc_tasklist.paging import FIRST
from mc_tasklist.selectors import task_page
from testsupport.gunicorn import GunicornInstance
from testsupport.http import Visitor
from testsupport.pages import tasks_shown


@pytest.mark.fast
def test_the_floor_only_rises_with_what_is_shown():
    floor = NewestShown()
    floor.shown(5)
    floor.shown(3)
    floor.shown(None)
    assert floor.version == 5
    assert floor.is_newer_than(4)
    assert not floor.is_newer_than(5)
    assert not floor.is_newer_than(None), "an entry without a version (an older page) is never judged"


@pytest.mark.fast
def test_a_database_read_that_began_after_the_floor_rose_and_found_less_lowers_it():
    """The database went back (a restored backup, a test's rollback): only that explains such a read."""
    floor = NewestShown()
    began_before = time.monotonic()
    floor.shown(9)
    floor.shown(4, read_from_database_at=began_before)
    assert floor.version == 9, "a read that overlapped the one that showed 9 may see less"
    floor.shown(4)
    assert floor.version == 9, "nor does an entry from the cache lower it"
    floor.shown(4, read_from_database_at=time.monotonic())
    assert floor.version == 4


@pytest.mark.fast
def test_the_floor_is_shared_with_forked_workers_and_survives_one_killed_holding_its_lock():
    floor = NewestShown()
    child = os.fork()
    if child == 0:  # a gunicorn worker: it shows version 7, then dies holding the lock
        floor.shown(7)
        floor._locked().__enter__()
        os.kill(os.getpid(), signal.SIGKILL)
    os.waitpid(child, 0)
    assert floor.version == 7, "what one worker showed, its siblings know"
    floor.shown(8)  # would wait forever if the dead worker's lock were still held
    assert floor.version == 8


@pytest.fixture
def a_write_in_flight(settings):
    """Returns a function: under ``strategy``, "Before" is cached, then "After" is committed and
    another thread shows it while its invalidation is still in flight. Gives the cached list and
    the list with "After"."""

    def write(strategy: str) -> tuple[dict, dict]:
        settings.TASKLIST_INVALIDATION = strategy
        Task.objects.create(name="Before")
        TaskListCache().tasks(FIRST, task_page)
        stale = cache.get(keys.tasks_key())
        Task.objects.create(name="After")
        fresh = task_page(FIRST)
        newest_shown.shown(fresh["version"])
        return stale, fresh

    yield write
    newest_shown.forget()


def names_read(reads: TaskListCache) -> list[str]:
    return [task["name"] for task in reads.tasks(FIRST, task_page)["tasks"]]


@pytest.mark.fast
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("strategy", ["delete", "update"])  # removed and filled; stored over
def test_a_cached_list_older_than_one_shown_is_read_from_the_database_and_replaced(a_write_in_flight, strategy):
    stale, _ = a_write_in_flight(strategy)
    cache.set(keys.page_key(), (stale["version"], b"the page from before"))
    reads = TaskListCache()
    assert names_read(reads) == ["After", "Before"]
    assert reads.page(FIRST, lambda: "rendered now") == b"rendered now"
    assert reads.served == {"query": "behind", "page": "behind"}
    assert cache.get(keys.tasks_key())["version"] == newest_shown.version, "the entry was replaced"
    assert TaskListCache().cached_page(FIRST) == b"rendered now"
    cache.set(keys.page_key(), (stale["version"], b"the page from before"))
    assert TaskListCache().cached_page(FIRST) is None, "the fast path declines it: Django reads it anew"


@pytest.mark.fast
@pytest.mark.django_db(transaction=True)
def test_a_read_that_finds_an_older_entry_waits_for_the_write_in_flight_to_store_the_newer_one(a_write_in_flight):
    """Not the database: its newest list would raise the floor past what the cache holds, again and again."""
    _, fresh = a_write_in_flight("update")
    threading.Timer(0.01, cache.set, [keys.tasks_key(), fresh]).start()  # the writer's refresh lands
    reads = TaskListCache()
    assert names_read(reads) == ["After", "Before"]
    assert reads.served == {"query": "hit"}


@pytest.mark.fast
@pytest.mark.django_db(transaction=True)
def test_under_expire_entries_live_out_their_ttl_whatever_was_shown(a_write_in_flight):
    a_write_in_flight("expire")
    reads = TaskListCache()
    assert names_read(reads) == ["Before"]
    assert reads.served == {"query": "hit"}


@pytest.fixture
def one_instance_of_two_workers(app_env):
    instance = GunicornInstance({**app_env, "TASKLIST_CACHE_TTL": "60"}, workers=2).start()
    yield instance
    instance.stop()


@pytest.mark.gunicorn
def test_no_worker_of_an_instance_shows_an_older_list_than_a_sibling_showed(one_instance_of_two_workers):
    """The cache holds the list from before an acknowledged write again (a server back from a freeze
    with its old entries, a late write from before it): neither worker shows it."""
    visitor = Visitor(one_instance_of_two_workers.port)
    assert visitor.post("/add", {"name": "Before"}).status == 302
    for _ in range(10):  # new connections: both workers cache and show it
        assert set(tasks_shown(visitor.get("/").text).values()) == {"Before"}
    old_list, old_page = cache.get(keys.tasks_key()), cache.get(keys.page_key())
    assert old_list is not None and old_page is not None, "this process reads the instance's entries"

    assert visitor.post("/add", {"name": "After"}).status == 302  # shown by the worker that wrote it
    shown = []
    for _ in range(20):  # whichever worker a new connection reaches
        cache.set_many({keys.tasks_key(): old_list, keys.page_key(): old_page}, 60)
        shown.append(set(tasks_shown(visitor.get("/").text).values()))
    assert shown == [{"Before", "After"}] * 20
