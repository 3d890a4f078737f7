"""``BinaryMemcachedCache``: Django's cache API on memcached with SASL (MemCachier).

Built on python-binary-memcached and Django's own ``BaseMemcachedCache``. It
replaces django-bmemcached, whose ``touch`` raises, whose ``incr`` creates
missing keys and whose ``delete`` reports success for missing keys. Beyond
that library it:

* keeps connections across requests (Django closes caches after each request);
* bounds every server operation by a short socket timeout, and after one
  failure skips the server for ``retry_delay`` seconds, so a hung server costs
  a request one timeout at most and a dead one costs nothing;
* turns every server error into a miss, as memcached clients traditionally do:
  a broken cache makes pages slower, never an error page;
* offers the package's extensions: ``lease``, ``set_if_leased`` (with CAS)
  and ``set_unless``.
"""

import collections
import functools
import logging
import re
import ssl
from typing import NamedTuple

import bmemcached
import django
from asgiref.sync import sync_to_async
from bmemcached.exceptions import MemcachedException
from django.conf import settings
from django.core.cache.backends.base import DEFAULT_TIMEOUT, MEMCACHE_MAX_KEY_LENGTH
from django.core.cache.backends.memcached import BaseMemcachedCache
from django.utils.functional import cached_property

from sasl_memcached.leases import CACHE_UNAVAILABLE, LEASE_MARKER
from sasl_memcached.protocol import CacheServerError, Client, ServerBackingOff, ServerConnection
from sasl_memcached.values import UNTRUSTED, Unreadable, ValueCodec, signing_key

logger = logging.getLogger("sasl_memcached")

# Memcached's binary protocol has no negative expiry. An absolute time in 1970
# (anything above 30 days is read as a Unix timestamp) expires at once, which is
# what Django means by timeout=0. python-binary-memcached would send 0xFFFFFFFE,
# the year 2106.
EXPIRED_AT_ONCE = 60 * 60 * 24 * 30 + 1

_SERVER_ERRORS = (OSError, MemcachedException, CacheServerError)


def _on_failure(default):
    """Log a server error and return ``default``: a cache failure is a miss."""

    def decorate(method):
        @functools.wraps(method)
        def guarded(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except ServerBackingOff:
                pass  # Logged once, when the server failed.
            except _SERVER_ERRORS as error:
                logger.error("cache %s failed: %s", method.__name__, error)
            return default() if callable(default) else default

        return guarded

    return decorate


def _log_untrusted(keys: list[str]) -> None:
    logger.warning("cache values this app did not write, treated as misses: %s", ", ".join(map(repr, keys)))


def _tls_context(tls: bool, ca_file: str | None) -> ssl.SSLContext | None:
    """TLS to memcached, verifying the server's certificate (against ``ca_file``, else the system's CAs)."""
    return ssl.create_default_context(cafile=ca_file) if tls else None


# The keys memcached cannot store, as Django's own check finds them (which is slower: a lazy regex and a
# generator every call); a key this matches gets Django's check and its message.
_UNSAFE_KEY = re.compile(r"[\x00-\x20\x7f]")


# Options python-binary-memcached and django-bmemcached take that would change how values are stored;
# here the codec (values.py) decides that alone. Dropped, and named by the start-up check W002.
IGNORED_OPTIONS = frozenset({"compression", "pickle_protocol", "pickler", "unpickler", "raw_data"})


def _key_missing(key):
    raise ValueError(f"Key '{key}' not found")


class BinaryMemcachedCache(BaseMemcachedCache):
    """Django cache backend for memcached with SASL (MemCachier), on python-binary-memcached."""

    def __init__(self, server, params):
        super().__init__(server, params, library=bmemcached, value_not_found_exception=ValueError)
        options = {name: value for name, value in self._options.items() if name not in IGNORED_OPTIONS}
        self._class = Client
        self._tls = (options.pop("tls", False), options.pop("tls_ca_file", None))
        self._options = {
            "username": options.pop("username", None),
            "password": options.pop("password", None),
            "socket_timeout": options.pop("socket_timeout", 0.2),
            "retry_delay": options.pop("retry_delay", 3),
            "codec": ValueCodec(signing_key(options.pop("signing_secret", None) or settings.SECRET_KEY)),
            **options,
        }

    @cached_property
    def _cache(self):
        # The TLS context is made with the client, not with the backend: Django's own start-up checks
        # make every cache, and a CA file that is not there must be their error (checks.py), not a crash.
        return self._class(self.client_servers, **self._options, tls_context=_tls_context(*self._tls))

    def validate_key(self, key):
        if len(key) > MEMCACHE_MAX_KEY_LENGTH or _UNSAFE_KEY.search(key):
            super().validate_key(key)

    def get_backend_timeout(self, timeout=DEFAULT_TIMEOUT):
        expiry = super().get_backend_timeout(timeout)
        return EXPIRED_AT_ONCE if expiry < 0 else expiry

    def get(self, key, default=None, version=None):
        safe_key = self.make_and_validate_key(key, version=version)
        found, value = self._lookup(safe_key)
        if isinstance(value, Unreadable):
            if value is UNTRUSTED:
                _log_untrusted([safe_key])
            return default
        # A stored None is a value (Django's contract); a lease placeholder is not.
        return value if found and value != LEASE_MARKER else default

    @_on_failure(default=(False, None))
    def _lookup(self, key):
        return self._cache.lookup(key)

    @_on_failure(default=dict)
    def get_many(self, keys, version=None):
        found = super().get_many(keys, version=version)
        if untrusted := [key for key, value in found.items() if value is UNTRUSTED]:
            _log_untrusted([self.make_key(key, version=version) for key in untrusted])
        return {
            key: value for key, value in found.items() if value != LEASE_MARKER and not isinstance(value, Unreadable)
        }

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        safe_key = self.make_and_validate_key(key, version=version)
        if not self._store(safe_key, value, self.get_backend_timeout(timeout)):
            # As Django's memcached backends do: never leave the old value
            # behind a failed set (a value over memcached's 1 MB item limit).
            self._delete(safe_key)

    @_on_failure(default=False)
    def _store(self, key, value, expiry):
        return self._cache.set(key, value, expiry)

    @_on_failure(default=False)
    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return super().add(key, value, timeout, version)

    @_on_failure(default=False)
    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        key = self.make_and_validate_key(key, version=version)
        return self._cache.server_for(key).touch_key(key, self.get_backend_timeout(timeout))

    def delete(self, key, version=None):
        return self._delete(self.make_and_validate_key(key, version=version))

    @_on_failure(default=False)
    def _delete(self, key):
        return self._cache.server_for(key).delete_key(key)

    def incr(self, key, delta=1, version=None):
        safe_key = self.make_and_validate_key(key, version=version)
        value = self._incr(safe_key, delta)
        if value is None:
            _key_missing(key)
        return value

    @_on_failure(default=None)
    def _incr(self, key, delta):
        return self._cache.server_for(key).incr_key(key, delta)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().set_many(data, timeout, version)
        except _SERVER_ERRORS as error:
            logger.error("cache set_many failed: %s", error)
            return list(data)

    def delete_many(self, keys, version=None):
        """One multi-delete per server; a server that fails is logged and skipped, the others still delete."""
        by_server = collections.defaultdict(list)
        for key in keys:
            safe_key = self.make_and_validate_key(key, version=version)
            by_server[self._cache.server_for(safe_key)].append(safe_key)
        for server, safe_keys in by_server.items():
            self._delete_on(server, safe_keys)

    @_on_failure(default=None)
    def _delete_on(self, server: ServerConnection, keys: list[str]) -> None:
        server.delete_keys(keys)

    @_on_failure(default=None)
    def clear(self):
        self._cache.flush_all()

    if django.VERSION < (6, 1):
        # The async twins of the commands this backend does in one round trip. Django 5.2 and 6.0 build
        # them from aget, aset and adelete, a key at a time, and aincr from an aget and an aset, between
        # which another task's aincr runs and is lost. Django 6.1 calls a backend's own sync method
        # instead (and its *_async_uses_specialized_implementation tests check that it does); these do
        # the same on the releases before it. The rest of Django's async methods already call this
        # backend's get, set, add, touch, delete and clear.
        async def aget_many(self, keys, version=None):
            return await sync_to_async(self.get_many, thread_sensitive=True)(keys, version=version)

        async def aset_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
            return await sync_to_async(self.set_many, thread_sensitive=True)(data, timeout, version=version)

        async def adelete_many(self, keys, version=None):
            return await sync_to_async(self.delete_many, thread_sensitive=True)(keys, version=version)

        async def aincr(self, key, delta=1, version=None):
            return await sync_to_async(self.incr, thread_sensitive=True)(key, delta, version=version)

    def close(self, **kwargs):
        # Django calls this after every request. Keep the connection (and its
        # SASL handshake) for the next one, as Django's PyLibMCCache does.
        pass

    @_on_failure(default=CACHE_UNAVAILABLE)
    def lease(self, key, timeout, version=None):
        """Claim an absent key for filling.

        Returns a token; None if the key has a value or another lease; or
        CACHE_UNAVAILABLE if the server cannot be reached.
        """
        key = self.make_and_validate_key(key, version=version)
        server = self._cache.server_for(key)
        if server.backing_off():
            return CACHE_UNAVAILABLE
        stored, cas = self._cache.add(key, LEASE_MARKER, self.get_backend_timeout(timeout), get_cas=True)
        if stored:
            return cas
        return CACHE_UNAVAILABLE if server.backing_off() else None

    @_on_failure(default=False)
    def set_if_leased(self, key, lease, value, timeout=DEFAULT_TIMEOUT, version=None):
        """Store ``value`` only if the key still holds ``lease``: not deleted or replaced since."""
        key = self.make_and_validate_key(key, version=version)
        return bool(self._cache.cas(key, value, lease, self.get_backend_timeout(timeout)))

    @_on_failure(default=False)
    def set_unless(self, key, value, keep, timeout=DEFAULT_TIMEOUT, version=None, attempts=3):
        """Store ``value`` unless the key holds a value for which ``keep(current)`` is true.

        Compare-and-swap: a value stored meanwhile by another caller is judged
        by ``keep`` in its turn; a lease's placeholder is replaced (voiding that
        fill). Returns whether the key now holds ``value`` or a kept value; False
        if the server cannot be reached or ``attempts`` swaps lost their race.
        """
        key = self.make_and_validate_key(key, version=version)
        server = self._cache.server_for(key)
        if server.backing_off():
            return False
        expiry = self.get_backend_timeout(timeout)
        for _ in range(attempts):
            current, cas = server.get(key)
            if cas is None:
                stored = self._cache.add(key, value, expiry)
            elif current is not LEASE_MARKER and not isinstance(current, Unreadable) and keep(current):
                return True
            else:
                stored = self._cache.cas(key, value, cas, expiry)
            if stored:
                return True
        return False

    def server_stats(self) -> dict[str, dict[str, bytes]]:
        return self._cache.stats()

    def ping_servers(self) -> dict[str, "ServerPing"]:
        """Log in to each server once, and say how each answered.

        Leaves no connection open, so that a process that forks afterwards
        (gunicorn's master) hands none to its children.
        """
        answers = {}
        for server in self._cache.servers:
            try:
                answers[server.server] = ServerPing(reachable=server.noop() == 0)
            except MemcachedException as error:  # raised only for a refused login
                answers[server.server] = ServerPing(reachable=True, refusal=str(error))
        self._cache.disconnect_all()
        return answers


class ServerPing(NamedTuple):
    reachable: bool
    refusal: str | None = None  # why the server refused the credentials
