"""The watcher applies a change another process announced and did not confirm, after a grace period.

In one process against the SASL memcached and PostgreSQL; test_partial_faults.py
shows the same across gunicorn instances with real faults.
"""

import time

import pytest
from django.core.cache import cache
from django.test import Client

from mc_tasklist.caching import keys
from mc_tasklist.caching.pending import pending
from mc_tasklist.caching.read_through import TaskListCache
from mc_tasklist.caching.watcher import GRACE_SECONDS, InvalidationWatcher
from mc_tasklist.models import Task, UnconfirmedInvalidation
from mc_tasklist.paging import FIRST
from mc_tasklist.selectors import task_page

pytestmark = pytest.mark.django_db(transaction=True)


def cached_page() -> None:
    Client().get("/")
    Client().get("/")
    assert cache.get(keys.page_key()) is not None


def test_an_unconfirmed_change_is_applied_once_the_writer_had_its_chance():
    cached_page()
    change = UnconfirmedInvalidation.objects.create(older_pages=True)
    watcher = InvalidationWatcher()
    watcher.heard(f"new {change.id} 1")
    watcher.apply_due()
    assert cache.get(keys.page_key()) is not None, "the writer may still confirm it"
    time.sleep(GRACE_SECONDS)
    watcher.apply_due()
    assert cache.get(keys.page_key()) is None
    assert not UnconfirmedInvalidation.objects.exists(), "confirmed by the process that applied it"


def test_a_change_the_writer_confirmed_is_left_alone():
    cached_page()
    change = UnconfirmedInvalidation.objects.create(older_pages=True)
    watcher = InvalidationWatcher()
    watcher.heard(f"new {change.id} 1")
    watcher.heard(f"done {change.id}")
    time.sleep(GRACE_SECONDS)
    watcher.apply_due()
    assert cache.get(keys.page_key()) is not None, "no needless miss for every reader"


def test_while_a_change_is_unconfirmed_this_process_reads_no_list_or_page_from_the_cache():
    """The retry before each request may fail a moment before the server answers again (its back-off
    ends): the request's own reads must not then fetch what the retry could not delete."""
    cached_page()
    Task.objects.create(name="Committed behind the cache's back")
    pending.add({1: True}, expired_by=time.monotonic() + 60)
    try:
        reads = TaskListCache()
        names = [task["name"] for task in reads.tasks(FIRST, task_page)["tasks"]]
        assert names == ["Committed behind the cache's back"], "from the database, not the cached list"
        assert reads.page(FIRST, lambda: "rendered now") == b"rendered now"
        assert reads.served == {"query": "unconfirmed", "page": "unconfirmed"}
        assert TaskListCache().cached_page(FIRST) is None, "nor does the fast path: the request goes through Django"
    finally:
        pending.forget()
    assert "page=hit" in Client().get("/")["X-Cache"], "once nothing is pending, the cache serves again"
