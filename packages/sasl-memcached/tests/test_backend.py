"""The cache backends keep Django's documented cache API, on a real SASL memcached.

Each contract test runs against BinaryMemcachedCache on the SASL server and
against LocMemLeaseCache, the development cache, so both behave the same.
"""

import os
import threading
import time

import pytest
from django.core.cache.backends.base import InvalidCacheKey

from sasl_memcached.backend import BinaryMemcachedCache
from sasl_memcached.locmem import LocMemLeaseCache
from sasl_memcached.testing import SaslMemcached


def memcached_backend(servers, username=None, password=None, **options):
    return BinaryMemcachedCache(
        servers, {"KEY_PREFIX": "contract", "OPTIONS": {"username": username, "password": password, **options}}
    )


@pytest.fixture(params=["memcached", "locmem"])
def backend(request, memcached):
    if request.param == "memcached":
        cache = memcached_backend(memcached.server, memcached.username, memcached.password)
    else:
        cache = LocMemLeaseCache("contract", {})
    cache.clear()
    yield cache
    cache.clear()


def test_get_returns_default_for_a_missing_key(backend):
    assert backend.get("missing") is None
    assert backend.get("missing", "fallback") == "fallback"


@pytest.mark.parametrize("value", ["text", "ünïcødé", b"\x00bytes", 42, [], {"a": [1, 2]}, 3.5])
def test_set_then_get_returns_the_same_value(backend, value):
    backend.set("key", value)
    assert backend.get("key") == value


def test_timeout_zero_stores_nothing_and_none_never_expires(backend):
    backend.set("gone", "value", 0)
    backend.set("kept", "value", None)
    assert backend.get("gone") is None
    assert backend.get("kept") == "value"


def test_add_stores_only_when_the_key_is_absent(backend):
    assert backend.add("key", "first") is True
    assert backend.add("key", "second") is False
    assert backend.get("key") == "first"


def test_touch_reports_whether_the_key_exists_and_sets_its_expiry(backend):
    assert backend.touch("missing", 10) is False
    backend.set("key", "value", 100)
    assert backend.touch("key", 1) is True
    time.sleep(2.2)  # memcached's clock has one-second resolution
    assert backend.get("key") is None


def test_delete_reports_whether_a_key_was_deleted(backend):
    backend.set("key", "value")
    assert backend.delete("key") is True
    assert backend.delete("key") is False
    assert backend.get("key") is None


def test_incr_and_decr_change_an_existing_number(backend):
    backend.set("n", 10)
    assert backend.incr("n") == 11
    assert backend.incr("n", 5) == 16
    assert backend.decr("n", 6) == 10
    assert backend.incr("n", -3) == 7
    assert backend.get("n") == 7


def test_incr_and_decr_of_a_missing_key_raise_and_create_nothing(backend):
    with pytest.raises(ValueError):
        backend.incr("missing")
    with pytest.raises(ValueError):
        backend.decr("missing")
    assert backend.get("missing") is None


def test_get_many_returns_only_the_keys_found(backend):
    backend.set("a", 1)
    backend.set("b", [])
    assert backend.get_many(["a", "b", "c"]) == {"a": 1, "b": []}
    assert backend.get_many([]) == {}


def test_set_many_stores_all_and_reports_no_failures(backend):
    assert backend.set_many({"a": 1, "b": "two"}) == []
    assert backend.get_many(["a", "b"]) == {"a": 1, "b": "two"}


def test_delete_many_removes_every_key(backend):
    backend.set_many({"a": 1, "b": 2, "c": 3})
    backend.delete_many(["a", "b", "missing"])
    assert backend.get_many(["a", "b", "c"]) == {"c": 3}


def test_has_key(backend):
    backend.set("key", "value")
    assert backend.has_key("key") is True
    assert backend.has_key("missing") is False


def test_clear_removes_everything(backend):
    backend.set_many({"a": 1, "b": 2})
    backend.clear()
    assert backend.get_many(["a", "b"]) == {}


def test_get_or_set_and_versions(backend):
    assert backend.get_or_set("key", "computed") == "computed"
    assert backend.get_or_set("key", "other") == "computed"
    backend.set("key", "v1", version=1)
    backend.set("key", "v2", version=2)
    assert backend.get("key", version=1) == "v1"
    assert backend.get("key", version=2) == "v2"


def test_a_lease_makes_a_key_read_as_missing_until_it_is_filled(backend):
    lease = backend.lease("key", 10)
    assert lease is not None
    assert backend.get("key") is None
    assert backend.get_many(["key"]) == {}
    assert backend.lease("key", 10) is None, "a second reader must not get the same lease"
    assert backend.set_if_leased("key", lease, "value") is True
    assert backend.get("key") == "value"


def test_a_lease_is_refused_for_a_key_that_has_a_value(backend):
    backend.set("key", "value")
    assert backend.lease("key", 10) is None


def test_deleting_a_leased_key_voids_the_lease(backend):
    lease = backend.lease("key", 10)
    backend.delete("key")
    assert backend.set_if_leased("key", lease, "stale") is False
    assert backend.get("key") is None


def test_a_lease_voided_and_taken_again_cannot_be_used_by_its_first_holder(backend):
    first = backend.lease("key", 10)
    backend.delete("key")
    second = backend.lease("key", 10)
    assert backend.set_if_leased("key", first, "stale") is False
    assert backend.set_if_leased("key", second, "fresh") is True
    assert backend.get("key") == "fresh"


# memcached only


def newer_or_same(version):
    return lambda current: current[0] >= version


def test_set_unless_stores_into_a_missing_key(backend):
    assert backend.set_unless("key", (1, "one"), newer_or_same(1)) is True
    assert backend.get("key") == (1, "one")


def test_set_unless_replaces_a_value_keep_refuses_and_keeps_one_it_accepts(backend):
    backend.set("key", (2, "two"))
    assert backend.set_unless("key", (1, "one"), newer_or_same(1)) is True, "holds a newer value"
    assert backend.get("key") == (2, "two")
    assert backend.set_unless("key", (3, "three"), newer_or_same(3)) is True
    assert backend.get("key") == (3, "three")


def test_set_unless_replaces_a_lease_and_voids_it(backend):
    lease = backend.lease("key", 10)
    assert backend.set_unless("key", (1, "one"), newer_or_same(1)) is True
    assert backend.set_if_leased("key", lease, (0, "older")) is False
    assert backend.get("key") == (1, "one")


def test_set_unless_on_an_unreachable_server_says_it_did_not_store():
    from sasl_memcached.testing import free_port

    cache = memcached_backend(f"127.0.0.1:{free_port()}")
    assert cache.set_unless("key", (1, "one"), newer_or_same(1)) is False


def test_keys_memcached_cannot_store_are_rejected(memcached):
    cache = memcached_backend(memcached.server, memcached.username, memcached.password)
    with pytest.raises(InvalidCacheKey):
        cache.get("has space")
    with pytest.raises(InvalidCacheKey):
        cache.get("x" * 300)


def test_a_value_too_large_for_memcached_is_not_stored_and_the_old_value_is_gone(memcached):
    cache = memcached_backend(memcached.server, memcached.username, memcached.password)
    cache.set("big", "small")
    cache.set("big", os.urandom(2 * 1024 * 1024))  # incompressible, over the 1 MB item limit
    assert cache.get("big") is None


def test_the_connection_is_kept_across_requests(memcached):
    cache = memcached_backend(memcached.server, memcached.username, memcached.password)
    cache.get("warm-up")
    before = int(cache.server_stats()[memcached.server]["total_connections"])
    for _ in range(20):
        cache.get("key")
        cache.close()  # what Django calls at the end of each request
    after = int(cache.server_stats()[memcached.server]["total_connections"])
    assert after == before


def test_wrong_credentials_read_as_misses_not_errors(memcached):
    cache = memcached_backend(memcached.server, memcached.username, "wrong-password")
    cache.set("key", "value")
    assert cache.get("key") is None
    assert cache.add("key", "value") is False
    assert cache.delete("key") is False


def test_memcached_without_authentication_works():
    server = SaslMemcached(sasl=False).start()
    try:
        cache = memcached_backend(server.server)
        cache.set("key", "value")
        assert cache.get("key") == "value"
    finally:
        server.cleanup()


def test_keys_are_spread_over_several_servers():
    servers = [SaslMemcached().start() for _ in range(2)]
    try:
        cache = memcached_backend([s.server for s in servers], servers[0].username, servers[0].password)
        cache.set_many({f"key{i}": i for i in range(100)})
        items = [int(cache.server_stats()[s.server]["curr_items"]) for s in servers]
        assert sum(items) == 100
        assert min(items) > 10, f"consistent hashing should use both servers, got {items}"
        assert cache.get_many([f"key{i}" for i in range(100)]) == {f"key{i}": i for i in range(100)}
    finally:
        for server in servers:
            server.cleanup()


def test_delete_many_deletes_on_the_servers_that_answer_and_skips_one_that_hangs():
    servers = [SaslMemcached().start() for _ in range(2)]
    try:
        cache = memcached_backend([s.server for s in servers], servers[0].username, servers[0].password)
        keys = [f"key{i}" for i in range(40)]
        cache.set_many(dict.fromkeys(keys, 1))
        hung = servers[1].server
        on_hung = [key for key in keys if cache._cache.server_for(cache.make_key(key)).server == hung]
        on_answering = [key for key in keys if key not in on_hung]
        servers[1].pause()
        cache.delete_many(keys)  # raises nothing: a failing server is a miss
        cache.delete_many(keys)  # and while backing off
        servers[1].resume()
        assert cache.get_many(on_answering) == {}, "deleted where the server answered"
        assert cache.get_many(on_hung) == {}, "skipped during the back-off"
        time.sleep(3.1)
        cache.set_many(dict.fromkeys(on_hung, 2))
        assert cache.get_many(on_hung) == dict.fromkeys(on_hung, 2), "used again once the back-off ends"
    finally:
        for server in servers:
            server.cleanup()


def test_a_lease_on_an_unreachable_server_says_so_rather_than_held():
    from sasl_memcached import CACHE_UNAVAILABLE
    from sasl_memcached.testing import free_port

    cache = memcached_backend(f"127.0.0.1:{free_port()}")
    assert cache.lease("key", 10) is CACHE_UNAVAILABLE
    assert cache.lease("key", 10) is CACHE_UNAVAILABLE, "and quickly, while backing off"


def test_processes_forked_after_the_cache_was_used_do_not_share_its_connection(memcached):
    """gunicorn's master uses the cache (the start-up check), then forks the workers."""
    import multiprocessing

    cache = memcached_backend(memcached.server, memcached.username, memcached.password)
    cache.set_many({f"fork-{n}": n for n in range(20)})

    def read_many(queue):
        wrong = sum(cache.get(f"fork-{n % 20}") != n % 20 for n in range(2000))
        queue.put(wrong)

    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    children = [context.Process(target=read_many, args=(queue,)) for _ in range(3)]
    for child in children:
        child.start()
    wrong_here = sum(cache.get(f"fork-{n % 20}") != n % 20 for n in range(2000))
    for child in children:
        child.join(60)
    assert [queue.get(timeout=5) for _ in children] == [0, 0, 0]
    assert wrong_here == 0


def two_timed_misses_once_hung(cache, server: SaslMemcached) -> list[float]:
    """Seconds each of two gets takes to come back a miss once the server hangs under a connection
    that is open and logged in; fails, rather than hangs, if they wait over 10 s.

    One thread does it all: connections, and their back-off, are per thread.
    """
    seconds = []

    def read_twice():
        cache.set("key", "value")
        server.pause()
        for _ in range(2):
            started = time.monotonic()
            assert cache.get("key", "miss") == "miss"
            seconds.append(time.monotonic() - started)

    reader = threading.Thread(target=read_twice, daemon=True)
    reader.start()
    reader.join(10)
    assert len(seconds) == 2, f"the gets waited over 10 s on a hung server: {seconds}"
    return seconds


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_a_hung_server_costs_one_read_its_socket_timeout_then_nothing_until_it_answers(tls):
    """Each send and receive is bounded (by the kernel, on Linux); the server is then skipped for retry_delay."""
    server = SaslMemcached(tls=tls).start()
    try:
        tls_options = {"tls": True, "tls_ca_file": str(server.certificate)} if tls else {}
        cache = memcached_backend(server.server, server.username, server.password, retry_delay=1, **tls_options)
        first, second = two_timed_misses_once_hung(cache, server)
        # 0.2 s is the default socket timeout; the upper bounds leave a busy machine its margin.
        assert 0.15 <= first < 2, first
        assert second < 0.1, second
        server.resume()
        time.sleep(1.1)
        assert cache.get("key") == "value", "used again once the retry delay has passed"
    finally:
        server.cleanup()


def test_replies_cut_from_one_receive_stay_in_step(memcached):
    """A get_many's replies, and a page-sized value's header and body, arrive in one receive and are
    cut from it; what one command leaves in the buffer is the start of the next one's reply."""
    cache = memcached_backend(memcached.server, memcached.username, memcached.password)
    page = "".join(f"<li>{n}</li>" for n in range(20_000))  # larger than one receive
    cache.set_many({f"step-{n}": n * "x" for n in range(50)})
    cache.set("page", page)
    for _ in range(3):
        assert cache.get_many([f"step-{n}" for n in range(50)]) == {f"step-{n}": n * "x" for n in range(50)}
        assert cache.get("page") == page
        assert cache.get("step-7") == "xxxxxxx"
