"""What each caching layer stores, and how each invalidation strategy keeps it fresh.

These run in one process against the SASL memcached; test_multi_instance.py
checks the same promises across gunicorn instances.
"""

import inspect
import threading
import time

import pytest
from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.db import OperationalError
from django.test import Client
from sasl_memcached import CACHE_UNAVAILABLE

from mc_tasklist import selectors, services, stats
from mc_tasklist.caching import keys
from mc_tasklist.caching.keys import STRATEGIES
from mc_tasklist.caching.list_version import list_versions
from mc_tasklist.caching.local_copies import served_pages
from mc_tasklist.caching.read_through import FILL_WAIT_MARGIN_SECONDS, TaskListCache
from mc_tasklist.models import Task
from mc_tasklist.paging import FIRST
from mc_tasklist.selectors import task_page
from mc_tasklist.tests.browsing import Browser
from testsupport.pages import task_names

pytestmark = pytest.mark.django_db(transaction=True)

# The strategies that promise freshness at once (expire promises it within the TTL).
FRESH_AT_ONCE = [strategy for strategy in STRATEGIES if strategy != "expire"]


def memcached_gets(memcached) -> int:
    """How many keys the server has been asked for, by its own count."""
    return int(memcached.stats()["cmd_get"])


def names(response) -> list[str]:
    return task_names(response.content.decode())


def cached(response) -> bool:
    """Served from memcached's page entry or from this process's copy of it."""
    return response["X-Cache"] in ("page=hit", "page=process-hit")


def written_outside_the_services():
    """A write made with the ORM directly answers nobody: wait out the window its services would have."""
    time.sleep(settings.TASKLIST_VERSION_WINDOW)


def test_the_query_layer_stores_plain_values_not_a_queryset(cache_setup):
    cache_setup(layers="query")
    Task.objects.create(name="Plain")
    Client().get("/")
    stored = cache.get(keys.tasks_key())
    assert type(stored) is dict
    assert type(stored["tasks"]) is list
    assert stored["tasks"][0]["name"] == "Plain"
    assert set(stored["tasks"][0]) == {"id", "name", "created_at"}
    assert stored["count"] == 1


def test_an_empty_list_is_a_hit(cache_setup):
    cache_setup(layers="query")
    assert Client().get("/")["X-Cache"] == "page=off; query=miss; fragments=off"
    assert Client().get("/")["X-Cache"] == "page=off; query=hit; fragments=off"


def test_a_page_hit_costs_one_cache_read_and_the_next_in_the_same_process_none(cache_setup, memcached):
    Task.objects.bulk_create(Task(name=f"Task {i}") for i in range(5))
    Client().get("/")
    served_pages.clear()  # as in another process
    before = memcached_gets(memcached)
    response = Client().get("/")
    assert response["X-Cache"] == "page=hit"
    assert memcached_gets(memcached) - before == 1
    again = Client().get("/")
    assert again["X-Cache"] == "page=process-hit"
    assert memcached_gets(memcached) - before == 1, "a dictionary look-up"
    assert names(again) == names(response)


def test_a_page_miss_rebuilds_from_the_cached_query_and_rows(cache_setup):
    Task.objects.bulk_create(Task(name=f"Task {i}") for i in range(3))
    Client().get("/")
    cache.delete(keys.page_key())
    served_pages.clear()
    assert Client().get("/")["X-Cache"] == "page=miss; query=hit; fragments=3/3"


def test_rows_are_reused_across_a_change_to_the_list(cache_setup):
    Task.objects.bulk_create(Task(name=f"Task {i}") for i in range(3))
    Client().get("/")
    services.task_create(name="New")
    assert Client().get("/")["X-Cache"] == "page=miss; query=miss; fragments=3/4"


def test_a_flash_message_is_put_into_the_shared_cached_page_for_its_visitor_alone(cache_setup, browser):
    Task.objects.bulk_create(Task(name=f"Task {i}") for i in range(3))
    browser.add("New")
    Client().get("/")  # the first page cached again, by anyone
    with_message = browser.get("/")
    assert cached(with_message)
    assert "Added “New”." in with_message.content.decode()
    assert names(with_message)[0] == "New"
    without = Client().get("/")
    assert cached(without)
    assert "Added" not in without.content.decode()
    assert "Added" not in browser.get("/").content.decode(), "a message is shown once"


def test_a_write_renders_nothing_the_next_reader_fills_the_first_page_from_the_cached_rows(cache_setup):
    Task.objects.bulk_create(Task(name=f"Task {i}") for i in range(3))
    Client().get("/")
    stats.flush()
    before = stats.counters()
    services.task_create(name="New")
    stats.flush()
    assert stats.counters() == before | {"invalidation": before["invalidation"] + 1}, "no query, no row rendered"
    response = Client().get("/")
    assert response["X-Cache"] == "page=miss; query=miss; fragments=3/4"
    assert names(response)[0] == "New"


def test_a_renamed_task_gets_a_new_row_not_the_old_one(cache_setup):
    task = Task.objects.create(name="Before")
    Client().get("/")
    Task.objects.filter(id=task.id).update(name="After")
    written_outside_the_services()
    assert names(Client().get("/")) == ["After"]


def test_a_reused_id_never_shows_the_old_row(cache_setup):
    task = Task.objects.create(name="Original")
    Client().get("/")
    created_at = task.created_at
    Task.objects.all().delete()
    # SQLite and a restored database can hand out an id again.
    Task.objects.create(id=task.id, name="Reused")
    Task.objects.filter(id=task.id).update(created_at=created_at)
    written_outside_the_services()
    assert names(Client().get("/")) == ["Reused"]


@pytest.mark.parametrize("layers", ["", "query", "fragment", "page", "query,page", "query,fragment,page"])
def test_each_layer_can_be_switched_off(cache_setup, layers):
    """A layer that is on stores its entry and serves the next read; one that is off stores nothing."""
    cache_setup(layers=layers)
    Task.objects.create(name="Switchable")
    (task,) = task_page(FIRST)["tasks"]
    Client().get("/")
    served = dict(part.split("=") for part in Client().get("/")["X-Cache"].split("; "))
    on = set(filter(None, layers.split(",")))
    stored = {
        "query": cache.get(keys.tasks_key()) is not None,
        "fragment": cache.get(keys.fragment_key(task)) is not None,
        "page": cache.get(keys.page_key()) is not None,
    }
    assert {layer for layer, present in stored.items() if present} == on
    if "page" in on:
        assert served == {"page": "process-hit"}, "the whole page, nothing below it asked"
    else:
        assert served == {
            "page": "off",
            "query": "hit" if "query" in on else "off",
            "fragments": "1/1" if "fragment" in on else "off",
        }


@pytest.mark.parametrize("strategy", FRESH_AT_ONCE)
@pytest.mark.parametrize("layers", ["query", "page", "query,fragment,page"])
def test_a_write_is_seen_by_the_next_read(cache_setup, strategy, layers):
    cache_setup(layers=layers, invalidation=strategy)
    Client().get("/")
    services.task_create(name="Fresh")
    assert names(Client().get("/")) == ["Fresh"]
    services.task_delete(task_id=Task.objects.get().id)
    assert names(Client().get("/")) == []


def test_update_stores_the_new_first_page_so_the_next_read_is_a_hit_that_skips_the_database(
    cache_setup, django_assert_max_num_queries
):
    cache_setup(invalidation="update")
    Client().get("/")
    services.task_create(name="Stored by the writer")
    version = list_versions.current().list
    assert cache.get(keys.tasks_key(FIRST, version))["tasks"][0]["name"] == "Stored by the writer"
    assert cache.get(keys.page_key(FIRST, version))[0] == version
    served_pages.clear()  # as in another process
    with django_assert_max_num_queries(1):  # the list's version, at most
        response = Client().get("/")
    assert response["X-Cache"] == "page=hit"
    assert names(response) == ["Stored by the writer"]


def test_an_older_first_page_stored_late_names_its_own_version_and_is_never_served_for_a_newer_one(cache_setup):
    """Two writers race: the one whose read of the list is older stores it last. It lands under its own
    version's keys, which no read after the newer write asks for."""
    cache_setup(invalidation="update")
    Client().get("/")
    services.task_create(name="First")
    older = task_page(FIRST)  # read before the second write commits, stored after it
    services.task_create(name="Second")
    TaskListCache().store_first_page(older, lambda data: "the older page")
    assert cache.get(keys.page_key(FIRST, older["version"])) == (older["version"], b"the older page")
    assert names(Client().get("/")) == ["Second", "First"]
    served_pages.clear()
    assert names(Client().get("/")) == ["Second", "First"]


@pytest.mark.parametrize("strategy", FRESH_AT_ONCE)
def test_an_entry_for_another_version_is_never_served(cache_setup, strategy):
    """Planted by hand under the key the next read asks for, stamped with the version before: a miss."""
    cache_setup(invalidation=strategy)
    Client().get("/")
    services.task_create(name="Current")
    current = list_versions.current()
    key = keys.page_key(FIRST, None if strategy == "delete" else current.list)
    cache.set(key, (current.list - 1, b"<p>the list before</p>"))
    served_pages.clear()
    response = Client().get("/")
    assert names(response) == ["Current"]
    assert response["X-Cache"].startswith("page=miss")


@pytest.mark.parametrize("strategy", FRESH_AT_ONCE)
def test_a_write_whose_version_cannot_be_read_back_is_not_acknowledged(cache_setup, monkeypatch, strategy):
    """The database goes away between the commit and the read of the new version: nothing is published for
    readers while it is away, so the writer gets the 503 page, not the redirect that says it is done."""
    cache_setup(invalidation=strategy)
    browser = Browser(raise_request_exception=False)  # as a server answers: the error page
    token = browser.token()

    def database_gone():
        raise OperationalError("the database went away after the commit")

    monkeypatch.setattr(selectors, "list_versions", database_gone)
    response = browser.post("/add", {"csrfmiddlewaretoken": token, "name": "Committed, not acknowledged"})
    assert response.status_code == 503
    assert Task.objects.filter(name="Committed, not acknowledged").exists(), "the write stands"


def test_expire_serves_the_old_list_until_the_ttl_ends(cache_setup):
    cache_setup(invalidation="expire", ttl=2)
    Client().get("/")
    services.task_create(name="Later")
    assert names(Client().get("/")) == [], "expire's documented trade-off"
    time.sleep(3.1)
    assert names(Client().get("/")) == ["Later"]


def test_version_names_every_first_page_key_by_the_lists_version(cache_setup):
    """A write touches no entry: the old ones are never asked for again, and age out."""
    cache_setup(invalidation="version")
    Client().get("/")
    before = list_versions.current().list
    assert cache.get(keys.page_key(FIRST, before)) is not None
    services.task_create(name="Next")
    after = list_versions.current().list
    assert after == before + 1
    assert cache.get(keys.page_key(FIRST, before)) is not None, "left in place"
    assert cache.get(keys.tasks_key(FIRST, before)) is not None, "left in place"
    response = Client().get("/")
    assert response["X-Cache"].startswith("page=miss; query=miss"), "neither old entry is read"
    assert names(response) == ["Next"]
    assert cache.get(keys.page_key(FIRST, after)) is not None
    assert cache.get(keys.tasks_key(FIRST, after)) is not None


@pytest.mark.parametrize("strategy", FRESH_AT_ONCE)
def test_a_reader_that_loaded_the_list_before_a_write_committed_does_not_cache_it(cache_setup, strategy):
    """The race the tutorial's code loses: reader queries, writer commits and invalidates, reader stores."""
    cache_setup(layers="query", invalidation=strategy)

    def load_then_a_write_commits(number):
        before_the_write = task_page(number)
        services.task_create(name="Committed meanwhile")
        return before_the_write

    assert TaskListCache().tasks(FIRST, load_then_a_write_commits)["tasks"] == []
    fresh = TaskListCache().tasks(FIRST, task_page)
    assert [task["name"] for task in fresh["tasks"]] == ["Committed meanwhile"]


def test_a_reader_that_misses_while_another_fills_waits_for_that_value(cache_setup):
    """The stampede: concurrent misses run the query once, the others read its result."""
    cache_setup(layers="query")
    filling, release = threading.Event(), threading.Event()
    loads = []
    version = list_versions.current().list

    def slow_load(number):
        loads.append(number)
        filling.set()
        release.wait(5)
        return {"tasks": [], "count": 0, "older": False, "version": version, "by": "the first reader"}

    results = []
    first = threading.Thread(target=lambda: results.append(TaskListCache().tasks(FIRST, slow_load)))
    first.start()
    filling.wait(5)
    second = threading.Thread(target=lambda: results.append(TaskListCache().tasks(FIRST, slow_load)))
    second.start()
    time.sleep(0.2)  # the second reader is now waiting, not loading
    release.set()
    first.join(5)
    second.join(5)
    assert loads == [FIRST], "the query ran once"
    assert [r["by"] for r in results] == ["the first reader", "the first reader"]
    stats.flush()
    assert stats.counters()["stampede_wait"] == 1


def test_a_fill_that_fails_frees_the_entry_so_waiting_readers_do_not_wait_out_the_lease(cache_setup):
    """The database fails the reader that holds the lease: the readers waiting for it find out at once."""
    cache_setup(layers="query")
    filling, release = threading.Event(), threading.Event()

    def failing_load(number):
        filling.set()
        release.wait(5)
        raise ConnectionError("the database is restarting")

    def waiting_load(number):
        raise ConnectionError("the database is restarting")

    def first_reader():
        with pytest.raises(ConnectionError):
            TaskListCache().tasks(FIRST, failing_load)

    first = threading.Thread(target=first_reader)
    first.start()
    filling.wait(5)
    release.set()
    started = time.monotonic()
    with pytest.raises(ConnectionError):
        TaskListCache().tasks(FIRST, waiting_load)
    first.join(5)
    assert time.monotonic() - started < 1, "not the lease's 5 s"


def test_a_reader_stops_waiting_for_fills_that_never_come_once_per_request(cache_setup):
    """The filler is gone (killed, or cut off from memcached) and its placeholders stay until the leases expire."""
    cache_setup(layers="query,page")
    for key in (keys.page_key(), keys.tasks_key()):
        assert cache.lease(key, 60) not in (None, CACHE_UNAVAILABLE), "another process's lease"
    reads = TaskListCache()
    page = reads.page(FIRST, lambda: str(reads.tasks(FIRST, task_page)))  # the list's fill inside the page's
    assert b"'tasks': []" in page
    # Time spent waiting on the cache, as the request log reports it: one budget, not the lease's 60 s,
    # nor one budget per layer (twice the margin).
    assert reads.cache_seconds < FILL_WAIT_MARGIN_SECONDS + 0.15


def test_with_the_cache_down_a_miss_does_not_wait(cache_setup, memcached):
    cache_setup(layers="query", query_delay=0)
    caches["default"].get("connect")
    memcached.stop()
    try:
        start = time.monotonic()
        for _ in range(3):
            assert TaskListCache().tasks(FIRST, task_page)["tasks"] == []
        assert time.monotonic() - start < 1.0
    finally:
        memcached.start()


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_entry_is_stored_with_a_finite_timeout(cache_setup, strategy, monkeypatch):
    """No entry lives forever, so even a lost invalidation heals by itself."""
    cache_setup(invalidation=strategy)
    backend = caches["default"]
    timeouts = []
    for name in ("set", "add", "set_many", "lease", "set_if_leased", "set_unless"):
        original = getattr(backend, name)
        signature = inspect.signature(original)

        def recording(*args, _original=original, _signature=signature, **kwargs):
            bound = _signature.bind(*args, **kwargs)
            bound.apply_defaults()
            timeouts.append(bound.arguments["timeout"])
            return _original(*args, **kwargs)

        monkeypatch.setattr(backend, name, recording)
    Client().get("/")
    services.task_create(name="One")
    Client().get("/")
    assert timeouts, "the cycle stored entries"
    assert all(t is not None and (t is DEFAULT_TIMEOUT or 0 < t <= 24 * 60 * 60) for t in timeouts), timeouts
    assert backend.default_timeout == 24 * 60 * 60


def test_sessions_are_kept_in_the_cache(browser, django_user_model):
    browser.force_login(django_user_model.objects.create_user("someone", password="a-long-password-123"))
    session_key = browser.cookies[settings.SESSION_COOKIE_NAME].value
    assert cache.get(f"django.contrib.sessions.cached_db{session_key}") is not None
