"""Django's own memcached tests, pointed at a memcached backend (this package's, unless told otherwise).

Never imported by the package (it imports Django's test tree, which only Django's
runtests.py puts on the path): ``testing.run_djangos_memcached_tests`` links this
file into the ``cache`` tests of Django's source distribution and runs it there,
so a backend meets the same assertions as Django's PyLibMCCache and
PyMemcacheCache. SASL_MEMCACHED_BACKEND names another backend to hold to them.
"""

import os

from cache.tests import BaseMemcachedTests, caches_setting_for_tests, memcached_excluded_caches
from django.test import TestCase, override_settings

OURS = "sasl_memcached.backend.BinaryMemcachedCache"
BACKEND = os.environ.get("SASL_MEMCACHED_BACKEND", OURS)
params = {
    "BACKEND": BACKEND,
    "LOCATION": os.environ["SASL_MEMCACHED_LOCATION"],
    "OPTIONS": {
        name: value
        for name, value in {
            "username": os.environ.get("SASL_MEMCACHED_USERNAME"),
            "password": os.environ.get("SASL_MEMCACHED_PASSWORD"),
        }.items()
        if value
    },
}
if BACKEND.endswith("PyLibMCCache"):
    params["OPTIONS"]["binary"] = True  # libmemcached speaks SASL over the binary protocol only


@override_settings(CACHES=caches_setting_for_tests(base=params, exclude=memcached_excluded_caches))
class MemcachedBackendTests(BaseMemcachedTests, TestCase):
    base_params = params
    # A deliberate difference from Django's default for memcached: this backend (and
    # django-bmemcached) keeps its connection and SASL handshake across requests, as
    # Django's PyLibMCCache does, instead of reconnecting for every request.
    # Django's PyLibMCCache keeps it too (libmemcached manages its connections).
    should_disconnect_on_close = BACKEND.endswith("PyMemcacheCache")

    @property
    def incr_decr_type_error(self):
        from django.core.cache import cache

        # As Django's own PyMemcacheCacheTests and PyLibMCCacheTests expect.
        if BACKEND.endswith("PyMemcacheCache"):
            return cache._lib.exceptions.MemcacheClientError
        if BACKEND.endswith("PyLibMCCache"):
            return cache._lib.ClientError
        return super().incr_decr_type_error
