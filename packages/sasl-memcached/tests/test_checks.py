"""The start-up checks name what is wrong with a cache's settings before a page is served."""

from django.test import override_settings

from sasl_memcached import checks

BACKEND = "sasl_memcached.backend.BinaryMemcachedCache"


def cache_with(**options):
    return {"default": {"BACKEND": BACKEND, "LOCATION": "127.0.0.1:1", "OPTIONS": options}}


def test_options_carried_over_from_django_bmemcached_that_do_nothing_are_named():
    with override_settings(CACHES=cache_with(username="u", compression="bz2", pickle_protocol=0)):
        (warning,) = checks.ignored_options()
    assert warning.id == "sasl_memcached.W002"
    assert warning.msg == "cache 'default': OPTIONS compression, pickle_protocol have no effect with this backend"


def test_options_the_backend_uses_raise_no_warning():
    with override_settings(CACHES=cache_with(username="u", password="p", socket_timeout=0.5, retry_delay=1)):
        assert checks.ignored_options() == []


def test_a_tls_ca_file_without_tls_is_an_error():
    with override_settings(CACHES=cache_with(tls_ca_file="/etc/ssl/certs/ca-certificates.crt")):
        (error,) = checks.tls_options()
    assert error.id == "sasl_memcached.E002"
