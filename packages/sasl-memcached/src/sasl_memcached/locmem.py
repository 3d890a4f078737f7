"""``LocMemLeaseCache``: Django's in-process cache with the package's extensions.

For development and fast unit tests, where one process is the whole world: the
same leases as the memcached backend, so code written against them runs here
unchanged.
"""

import itertools
import pickle

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache

from sasl_memcached.leases import LEASE_MARKER

_leases_by_location: dict[str, dict[str, int]] = {}
_lease_tokens = itertools.count(1)


class LocMemLeaseCache(LocMemCache):
    """Django's in-process cache with the same leases, for development and fast tests."""

    _pickled_marker = pickle.dumps(LEASE_MARKER, pickle.HIGHEST_PROTOCOL)

    def __init__(self, name, params):
        super().__init__(name, params)
        self._leases = _leases_by_location.setdefault(name, {})

    def get(self, key, default=None, version=None):
        value = super().get(key, default, version)
        return default if value == LEASE_MARKER else value

    def lease(self, key, timeout, version=None):
        key = self.make_and_validate_key(key, version=version)
        with self._lock:
            if not self._has_expired(key):
                return None
            token = next(_lease_tokens)
            self._set(key, self._pickled_marker, timeout)
            self._leases[key] = token
            return token

    def set_if_leased(self, key, lease, value, timeout=DEFAULT_TIMEOUT, version=None):
        key = self.make_and_validate_key(key, version=version)
        pickled = pickle.dumps(value, self.pickle_protocol)
        with self._lock:
            still_leased = (
                self._leases.get(key) == lease
                and not self._has_expired(key)
                and self._cache.get(key) == self._pickled_marker
            )
            if still_leased:
                del self._leases[key]
                self._set(key, pickled, timeout)
            return still_leased

    def set_unless(self, key, value, keep, timeout=DEFAULT_TIMEOUT, version=None, attempts=3):
        key = self.make_and_validate_key(key, version=version)
        with self._lock:
            if not self._has_expired(key):
                current = pickle.loads(self._cache[key])
                if current != LEASE_MARKER and keep(current):
                    return True
            self._leases.pop(key, None)  # a fill that began before this value is void
            self._set(key, pickle.dumps(value, self.pickle_protocol), timeout)
            return True
