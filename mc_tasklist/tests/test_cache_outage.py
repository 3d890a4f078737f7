"""A cache server that dies or hangs costs a little time, never an error or lost data.

These stop, pause (SIGSTOP) and restart the real SASL memcached the tests use.
The time limits are there to catch a hang, not to measure speed: the socket
timeout is 0.2 s, and a request may pay it once before the server is skipped.
"""

import time

import pytest
from django.core.cache import caches

from mc_tasklist.models import Task
from testsupport.tcp_proxy import TcpProxy

pytestmark = pytest.mark.django_db(transaction=True)

# How X-Cache begins for a page served from memcached, or from the process's copy of it.
CACHED = ("page=hit", "page=process-hit")
# One socket timeout, plus a generous allowance for a slow test machine.
HANG_LIMIT = 0.2 + 0.8


def timed(call):
    start = time.monotonic()
    result = call()
    return result, time.monotonic() - start


def wait_until_cached(browser, timeout=10.0):
    """Caching resumes by itself once the server is back and the retry delay has passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        served = browser.get("/")["X-Cache"]
        if served.startswith(CACHED):
            return
        time.sleep(0.25)
    pytest.fail("caching did not resume after the server came back")


@pytest.fixture
def stopped_memcached(memcached):
    caches["default"].get("connect")  # an open connection, as a running app has
    memcached.stop()
    yield memcached
    memcached.start()


@pytest.fixture
def paused_memcached(memcached):
    caches["default"].get("connect")
    memcached.pause()
    yield memcached
    memcached.resume()


def test_with_memcached_killed_pages_and_writes_work_from_the_database(browser, stopped_memcached):
    Task.objects.create(name="Still here")
    response, seconds = timed(lambda: browser.get("/"))
    assert response.status_code == 200
    assert "Still here" in response.content.decode()
    assert seconds < HANG_LIMIT
    assert browser.add("Added while down").status_code == 302
    page = browser.get("/").content.decode()
    assert "Added while down" in page
    assert "Added “Added while down”." in page, "sessions fall back to the database"


def test_after_memcached_restarts_caching_resumes(browser, memcached):
    caches["default"].get("connect")
    memcached.stop()
    browser.get("/")
    memcached.start()
    wait_until_cached(browser)


def test_with_memcached_hanging_no_request_hangs(browser, paused_memcached):
    Task.objects.create(name="Served anyway")
    response, first = timed(lambda: browser.get("/"))
    assert response.status_code == 200
    assert "Served anyway" in response.content.decode()
    assert first < HANG_LIMIT
    for _ in range(5):
        response, seconds = timed(lambda: browser.get("/"))
        assert response.status_code == 200
        assert seconds < HANG_LIMIT
    response, seconds = timed(lambda: browser.add("Written while hung"))
    assert response.status_code == 302
    assert seconds < HANG_LIMIT
    assert Task.objects.filter(name="Written while hung").exists()


def test_a_write_missed_while_memcached_hung_is_seen_after_the_ttl(browser, memcached, cache_setup):
    cache_setup(ttl=2)
    browser.get("/")
    browser.get("/")  # the empty list is now cached
    memcached.pause()
    try:
        browser.add("Missed invalidation")  # cannot delete the cached page
    finally:
        memcached.resume()
    time.sleep(3)  # the retry delay
    deadline = time.monotonic() + 2 + 3
    while "Missed invalidation</td>" not in browser.get("/").content.decode():
        assert time.monotonic() < deadline, "a stale page outlived its TTL"
        time.sleep(0.2)


@pytest.fixture
def cut_off_cache(memcached, settings):
    """The app reaches memcached through a proxy that can cut it off; the server keeps its entries."""
    proxy = TcpProxy(memcached.port).start()
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": [proxy.server]}}
    yield proxy
    proxy.stop()


@pytest.mark.parametrize("strategy", ["delete", "update", "version"])
def test_entries_the_cache_kept_from_before_a_write_are_never_served_once_it_answers_again(
    browser, cut_off_cache, cache_setup, strategy
):
    cache_setup(invalidation=strategy, ttl=60)
    browser.get("/")
    assert browser.get("/")["X-Cache"].startswith(CACHED), "the empty list is cached, for 60 s"
    cut_off_cache.cut()
    assert browser.add("Written while cut off").status_code == 302
    cut_off_cache.restore()
    time.sleep(3.1)  # the retry delay: until then the server is skipped
    page = browser.get("/").content.decode()
    assert "Written while cut off</td>" in page, "not the old page the server kept"
