"""The watcher applies a change another process could not confirm: at once when its writer says so,
after a grace period when the writer said nothing (it died).

In one process against the SASL memcached and PostgreSQL; test_partial_faults.py
shows the same across gunicorn instances with real faults.
"""

import threading
import time

import psycopg
import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client

from mc_tasklist import stats
from mc_tasklist.caching import channel, keys
from mc_tasklist.caching import watcher as watcher_module
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


def test_a_change_its_writer_could_not_confirm_is_held_pending_at_once_and_applied_at_once():
    cached_page()
    change = UnconfirmedInvalidation.objects.create(older_pages=True)
    watcher = InvalidationWatcher()
    try:
        assert watcher.heard(f"unconfirmed {change.id}:1") == {change.id: True}, "to be answered: held"
        assert pending.due() == {change.id: True}, "no read of this process may fetch an entry from before it"
        watcher.answer()
        assert cache.get(keys.page_key()) is None, "applied without waiting for the grace"
        assert not pending, "confirmed here"
        assert not UnconfirmedInvalidation.objects.exists()
    finally:
        pending.forget()


def test_a_writer_waits_for_a_confirmation_or_for_every_process_to_say_it_holds_the_change():
    pending.add({7: False}, expired_by=time.monotonic() + 60)
    try:
        started = time.monotonic()
        assert not pending.wait_until_answered([7], processes=2, timeout=0.2)
        assert time.monotonic() - started >= 0.2, "nobody answered: it waited its whole bound"

        for process in (101, 101, 102):  # the first says it twice (on hearing, then on catching up)
            pending.held_elsewhere([7], by=process)
        started = time.monotonic()
        assert not pending.wait_until_answered([7], processes=3, timeout=0.2)
        assert time.monotonic() - started >= 0.2, "two processes said it, not three"

        threading.Timer(0.05, pending.held_elsewhere, [[7]], {"by": 103}).start()
        started = time.monotonic()
        assert not pending.wait_until_answered([7], processes=3, timeout=5)
        assert time.monotonic() - started < 1, "all three answered: no reason to wait longer"

        threading.Timer(0.05, pending.discard, [[7]]).start()
        assert pending.wait_until_answered([7], processes=4, timeout=5), "another process confirmed it"
    finally:
        pending.forget()


def test_a_process_says_it_holds_a_change_while_its_repairs_hang_on_a_frozen_server(monkeypatch):
    """The word comes from the thread that listens; the one that repairs may be stuck for its timeout."""
    hung, released = threading.Event(), threading.Event()

    def settle_on_a_frozen_server(changes, refresh=None):
        hung.set()
        released.wait(30)
        return False

    monkeypatch.setattr(watcher_module, "settle", settle_on_a_frozen_server)
    watcher = InvalidationWatcher()
    threading.Thread(target=watcher.run_forever, daemon=True).start()
    params = {**connection.get_connection_params(), "autocommit": True}
    with psycopg.connect(**params) as writer:
        writer.execute(f"LISTEN {channel.CHANNEL}")
        try:
            assert channel.listening.wait(10)
            writer.execute("SELECT pg_notify(%s, 'unconfirmed 1:0')", [channel.CHANNEL])
            assert hung.wait(10), "the repair of change 1 is stuck"
            writer.execute("SELECT pg_notify(%s, 'unconfirmed 2:0')", [channel.CHANNEL])
            # Each message reaches every listener: the two "unconfirmed" and their answers.
            heard = [n.payload for n in writer.notifies(timeout=5, stop_after=4)]
            assert [payload for payload in heard if payload.startswith("held")] == ["held 1", "held 2"]
            assert not released.is_set()
            assert pending.due() == {1: False, 2: False}
        finally:
            watcher.stopped.set()
            released.set()
            pending.forget()


def test_a_watcher_that_connects_holds_what_the_outbox_holds_and_says_so():
    """Its writer may be waiting for this process's word, sent before the watcher listened."""
    change = UnconfirmedInvalidation.objects.create(older_pages=False)
    params = {**connection.get_connection_params(), "autocommit": True}
    with psycopg.connect(**params) as listener:
        listener.execute(f"LISTEN {channel.CHANNEL}")
        try:
            InvalidationWatcher()._catch_up(listener)
            assert pending.due() == {change.id: False}
            assert [n.payload for n in listener.notifies(timeout=5, stop_after=1)] == [f"held {change.id}"]
        finally:
            pending.forget()


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
    # The cached page is from before the task this process has shown: read anew, and stored.
    assert Client().get("/")["X-Cache"].startswith("page=behind; query=behind")
    assert "page=hit" in Client().get("/")["X-Cache"], "once nothing is pending, the cache serves again"


def test_a_database_outage_is_one_line_when_it_starts_and_one_when_it_ends(caplog):
    """Not a line per retry: the watcher retries every second, in every worker."""
    watcher = InvalidationWatcher()
    attempts = []

    def watch_while_the_database_is_down_then_once_up():
        attempts.append(time.monotonic())
        if len(attempts) <= 3:
            raise psycopg.OperationalError("connection refused")
        watcher.outage.succeeded()  # what _watch does once it listens again
        watcher.stopped.set()

    watcher._watch = watch_while_the_database_is_down_then_once_up
    with caplog.at_level("WARNING", logger="mc_tasklist.caching.watcher"):
        thread = threading.Thread(target=watcher.run_forever)
        thread.start()
        thread.join(10)
    assert len(attempts) == 4, "it kept retrying, every second"
    lines = [record.getMessage() for record in caplog.records if record.name == "mc_tasklist.caching.watcher"]
    assert lines == [
        "watching for unconfirmed invalidations: the database does not answer (connection refused);"
        " retrying until it does",
        "watching for unconfirmed invalidations: the database answers again",
    ]


def test_counts_that_cannot_be_flushed_log_the_outage_once(monkeypatch, caplog):
    from django.db import OperationalError

    failures = iter([True, True, True, False])

    def add_or_fail(counts):
        if next(failures):
            raise OperationalError("the database is restarting")

    monkeypatch.setattr(stats, "_add_to_shared_counters", add_or_fail)
    with caplog.at_level("WARNING", logger="mc_tasklist.stats"):
        for _ in range(4):
            stats.record("page_hit")
            stats.flush()
    assert [record.getMessage() for record in caplog.records if record.name == "mc_tasklist.stats"] == [
        "flushing cache statistics: the database does not answer (the database is restarting); retrying until it does",
        "flushing cache statistics: the database answers again",
    ]
