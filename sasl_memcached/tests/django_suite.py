"""Django's own memcached tests, pointed at BinaryMemcachedCache.

Not collected by pytest (it imports Django's test tree, which only Django's
runtests.py puts on the path): test_django_contract.py links this file into
the ``cache`` tests of Django's source distribution and runs it there, so the
backend meets the same assertions as Django's PyLibMCCache and PyMemcacheCache.
"""

import os

from cache.tests import BaseMemcachedTests, caches_setting_for_tests, memcached_excluded_caches
from django.test import TestCase, override_settings

BinaryMemcachedCache_params = {
    "BACKEND": "sasl_memcached.backend.BinaryMemcachedCache",
    "LOCATION": os.environ["SASL_MEMCACHED_LOCATION"],
    "OPTIONS": {
        "username": os.environ.get("SASL_MEMCACHED_USERNAME"),
        "password": os.environ.get("SASL_MEMCACHED_PASSWORD"),
    },
}


@override_settings(CACHES=caches_setting_for_tests(base=BinaryMemcachedCache_params, exclude=memcached_excluded_caches))
class BinaryMemcachedCacheTests(BaseMemcachedTests, TestCase):
    base_params = BinaryMemcachedCache_params
    # A deliberate difference from Django's default for memcached: the backend
    # keeps its connection (and SASL handshake) across requests, as Django's
    # PyLibMCCache does, instead of reconnecting for every request.
    should_disconnect_on_close = False
