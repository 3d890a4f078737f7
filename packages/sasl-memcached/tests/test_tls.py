"""TLS to memcached (Debian's memcached with -Z and a self-signed certificate), SASL inside it."""

import pytest

from sasl_memcached.backend import BinaryMemcachedCache
from sasl_memcached.testing import SaslMemcached


@pytest.fixture(scope="module")
def tls_memcached():
    server = SaslMemcached(tls=True).start()
    yield server
    server.cleanup()


def backend(server: SaslMemcached, **options) -> BinaryMemcachedCache:
    return BinaryMemcachedCache(
        server.server, {"OPTIONS": {"username": server.username, "password": server.password, **options}}
    )


def test_values_round_trip_over_tls_when_the_certificate_is_trusted(tls_memcached):
    cache = backend(tls_memcached, tls=True, tls_ca_file=str(tls_memcached.certificate))
    cache.set("key", {"over": "tls"})
    assert cache.get("key") == {"over": "tls"}
    assert cache.ping_servers()[tls_memcached.server].reachable


def test_a_certificate_the_client_does_not_trust_is_refused(tls_memcached):
    cache = backend(tls_memcached, tls=True)  # the system's CAs only
    cache.set("key", "value")
    assert cache.get("key", "miss") == "miss"
    assert not cache.ping_servers()[tls_memcached.server].reachable


def test_a_client_without_tls_gets_nothing_from_a_tls_server(tls_memcached):
    backend(tls_memcached, tls=True, tls_ca_file=str(tls_memcached.certificate)).set("key", "value")
    assert backend(tls_memcached).get("key", "miss") == "miss"
