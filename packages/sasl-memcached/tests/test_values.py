"""Only values this app wrote come out of memcached: anything planted is a miss, never code.

The planter is a plain python-binary-memcached client with the cache's own
credentials, as another app sharing the cache, a leaked password or anyone
on the network path of SASL PLAIN would use it.
"""

import os
import pickle
import uuid
import zlib

import pytest
import zstandard

from sasl_memcached import values
from sasl_memcached.backend import BinaryMemcachedCache
from sasl_memcached.values import UNTRUSTED, ValueCodec, signing_key


class RunsACommand:
    """A pickle that runs a shell command when it is loaded."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def app_cache(memcached, secret="the-app-secret") -> BinaryMemcachedCache:
    options = {"username": memcached.username, "password": memcached.password, "signing_secret": secret}
    return BinaryMemcachedCache(memcached.server, {"KEY_PREFIX": "", "OPTIONS": options})


@pytest.fixture
def marker(tmp_path):
    return tmp_path / f"planted-{uuid.uuid4().hex}"


def test_a_planted_pickle_is_a_miss_and_runs_nothing(memcached, marker, caplog):
    cache = app_cache(memcached)
    cache.set("page", "the app's page")
    with memcached.client() as planter:
        planter.set(":1:page", RunsACommand(str(marker)))
    with caplog.at_level("WARNING", logger="sasl_memcached"):
        assert cache.get("page", "miss") == "miss"
        assert cache.get_many(["page"]) == {}
    assert not marker.exists(), "the planted pickle ran"
    assert [r.getMessage() for r in caplog.records] == [
        "cache values this app did not write, treated as misses: ':1:page'"
    ] * 2


@pytest.mark.parametrize(
    "planted",
    ["a string", b"raw bytes", {"a": "dict"}, 12345678901234567890123, 3.5],
    ids=["str", "bytes", "pickled-dict", "huge-int", "float"],
)
def test_any_value_another_client_wrote_is_a_miss(memcached, planted):
    cache = app_cache(memcached)
    with memcached.client() as planter:
        planter.set(":1:key", planted)
    assert cache.get("key", "miss") == "miss"


def test_a_value_signed_with_another_secret_is_a_miss(memcached):
    app_cache(memcached, secret="another app's secret").set("key", {"a": 1})
    assert app_cache(memcached).get("key", "miss") == "miss"
    app_cache(memcached).set("key", {"a": 1})
    assert app_cache(memcached).get("key") == {"a": 1}


def test_a_multi_get_with_a_planted_value_still_returns_the_others(memcached, marker):
    cache = app_cache(memcached)
    cache.set_many({"one": 1, "two": "two", "three": [3]})
    with memcached.client() as planter:
        planter.set(":1:two", RunsACommand(str(marker)))
    assert cache.get_many(["one", "two", "three"]) == {"one": 1, "three": [3]}
    assert cache.get("three") == [3], "the connection is still in step after the refused value"
    assert not marker.exists()


def test_numbers_stay_plain_so_that_other_clients_and_incr_can_use_them(memcached):
    cache = app_cache(memcached)
    cache.set("counter", 41)
    assert cache.incr("counter") == 42
    with memcached.client() as operator:
        assert operator.get(":1:counter") == 42


def codec() -> ValueCodec:
    return ValueCodec(signing_key("secret"))


def test_the_compressed_flag_is_signed_and_cannot_be_flipped():
    flags, stored = codec().encode("x" * 5000)
    assert flags & values.COMPRESSED
    assert codec().decode(stored, flags) == "x" * 5000
    assert codec().decode(stored, flags & ~values.COMPRESSED) is UNTRUSTED
    small_flags, small = codec().encode("short")
    assert codec().decode(small, small_flags | values.COMPRESSED) is UNTRUSTED


def test_decompression_stops_at_the_limit_even_for_a_signed_value(monkeypatch):
    monkeypatch.setattr(values, "MAX_VALUE_BYTES", 10_000)
    flags, stored = codec().encode(b"\x00" * 50_000)  # compresses to a few hundred bytes
    assert flags & values.COMPRESSED and len(stored) < 1000
    assert codec().decode(stored, flags) is UNTRUSTED
    assert codec().decode(*reversed(codec().encode(b"\x00" * 5_000))) == b"\x00" * 5_000


@pytest.mark.parametrize("stored", [b"12a", b"9" * 21, b"", b" 1", b"1" + b" " * 21])
def test_only_a_plain_decimal_number_is_read_as_one(stored):
    assert codec().decode(stored, values.INTEGER) is UNTRUSTED


def test_a_value_too_short_to_hold_a_signature_is_a_miss():
    assert codec().decode(b"", values.SIGNED_PICKLE) is UNTRUSTED
    unsigned = zstandard.ZstdCompressor().compress(pickle.dumps("x"))
    assert codec().decode(unsigned, values.SIGNED_PICKLE | values.COMPRESSED) is UNTRUSTED


def test_a_value_an_earlier_release_wrote_is_a_miss_without_a_warning(memcached, caplog):
    """2.0 signed with HMAC-SHA256 and compressed with zlib, under flag bits 8 and 9."""
    cache = app_cache(memcached)
    earlier = {"small": (1 << 8, b"s" * 32 + pickle.dumps("x")), "large": (3 << 8, b"s" * 32 + zlib.compress(b"x"))}
    with memcached.client() as planter:
        for name, (flags, stored) in earlier.items():
            for server in planter.servers:  # stores these flags and bytes as they are
                server.serialize = lambda value, compress_level=-1, written=(flags, stored): written
            planter.set(f":1:{name}", "ignored")
    with caplog.at_level("WARNING", logger="sasl_memcached"):
        assert cache.get("small", "miss") == cache.get("large", "miss") == "miss"
        assert cache.get_many(["small", "large"]) == {}
    assert caplog.records == []
    cache.set("small", "refilled")
    assert cache.get("small") == "refilled"
