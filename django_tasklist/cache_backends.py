"""Cache backends that keep Django's cache contract and survive a failing server.

``BinaryMemcachedCache`` talks to memcached (and MemCachier, which needs SASL)
through python-binary-memcached. It replaces django-bmemcached, whose
``touch`` raises, whose ``incr`` creates missing keys and whose ``delete``
reports success for missing keys. Beyond that library it:

* keeps connections across requests (Django closes caches after each request);
* bounds every server operation by a short socket timeout, and after one
  failure skips the server for ``retry_delay`` seconds, so a hung server costs
  a request one timeout at most and a dead one costs nothing;
* turns every server error into a miss, as memcached clients traditionally do:
  a broken cache makes pages slower, never an error page.

Both backends also offer leases (``lease`` and ``set_if_leased``), which the
task list's caching policy uses to fill an entry only if nobody invalidated it
while the value was being computed. Memcached implements them with CAS.
"""

import collections
import functools
import itertools
import logging
import os
import pickle
import struct
import weakref
from datetime import datetime, timedelta

import bmemcached
from bmemcached.client.distributed import DistributedClient
from bmemcached.exceptions import MemcachedException
from bmemcached.protocol import Protocol
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.memcached import BaseMemcachedCache

logger = logging.getLogger(__name__)

# Stored in place of a value while one process computes it. A reader sees a miss.
LEASE_MARKER = b"\x00django_tasklist:lease\x00"
# What lease() returns when the cache cannot be asked: nobody will fill the
# entry, so nobody should wait for it.
CACHE_UNAVAILABLE = "cache-unavailable"

# Memcached's binary protocol has no negative expiry. An absolute time in 1970
# (anything above 30 days is read as a Unix timestamp) expires at once, which is
# what Django means by timeout=0. python-binary-memcached would send 0xFFFFFFFE,
# the year 2106.
EXPIRED_AT_ONCE = 60 * 60 * 24 * 30 + 1

_OPCODE = {"delete": 0x04, "incr": 0x05, "decr": 0x06, "noop": 0x0A, "touch": 0x1C}
_INCR_EXTRAS = struct.Struct("!QQL")
# An incr/decr expiry of 0xFFFFFFFF means "fail if the key is missing".
_NO_AUTO_CREATE = 0xFFFFFFFF


class CacheServerError(Exception):
    """A server did not answer, or answered with an error."""


class ServerBackingOff(CacheServerError):
    """The server failed recently and is skipped until its retry delay has passed."""


_all_connections: "weakref.WeakSet[_ServerConnection]" = weakref.WeakSet()


def _forget_inherited_connections() -> None:
    """In a forked child, drop the parent's sockets (the parent keeps using them).

    gunicorn's master checks the cache before forking its workers. A worker
    that went on using the inherited socket would share one TCP connection
    with its siblings, and each would read replies meant for another.
    """
    for server in list(_all_connections):
        server.connection = None


os.register_at_fork(after_in_child=_forget_inherited_connections)


class _ServerConnection(Protocol):
    """One memcached server: a circuit breaker and the commands bmemcached lacks."""

    def __init__(self, *args, retry_delay, **kwargs):
        super().__init__(*args, **kwargs)
        self.set_retry_delay(retry_delay)
        _all_connections.add(self)

    def _open_connection(self):
        try:
            super()._open_connection()
        except MemcachedException:
            # Bad credentials: drop the half-open connection and back off like
            # for any other failure, instead of retrying on every call.
            self._connection_error(None)
            raise

    def _connection_error(self, exception):
        super()._connection_error(exception)
        now = datetime.now()
        if self.reconnects_deferred_until and self.reconnects_deferred_until > now:
            # The "error" is bmemcached refusing to reconnect while we back off;
            # extending the back-off here would keep a busy app off the server forever.
            return
        logger.warning("memcached %s unavailable (%r); skipping it for %ss", self.server, exception, self.retry_delay)
        self.reconnects_deferred_until = now + timedelta(seconds=self.retry_delay)

    def backing_off(self) -> bool:
        return bool(self.reconnects_deferred_until and self.reconnects_deferred_until > datetime.now())

    def _request(self, command: str, key: str, extras: bytes = b"") -> tuple[int, bytes | None]:
        if self.backing_off():
            raise ServerBackingOff(self.server)
        self._send(self._message(command, key, extras))
        response = self._get_response()
        status, body = response[5], response[9]
        if status == self.STATUS["server_disconnected"]:
            raise CacheServerError(f"{self.server}: {body}")
        return status, body

    def _message(self, command: str, key: str = "", extras: bytes = b"") -> bytes:
        keybytes = key.encode()
        header = struct.pack(
            self.HEADER_STRUCT,
            self.MAGIC["request"],
            _OPCODE[command],
            len(keybytes),
            len(extras),
            0,
            0,
            len(extras) + len(keybytes),
            0,
            0,
        )
        return header + extras + keybytes

    def delete_keys(self, keys: list[str]) -> None:
        """Delete keys in one round trip. Raises unless the server answered for every one.

        bmemcached's delete_multi reports a missing key and an unreachable
        server alike, as False.
        """
        if self.backing_off():
            raise ServerBackingOff(self.server)
        self._send(b"".join(self._message("delete", key) for key in keys) + self._message("noop"))
        while True:
            response = self._get_response()
            if response[5] == self.STATUS["server_disconnected"]:
                raise CacheServerError(f"{self.server}: {response[9]}")
            if response[1] == _OPCODE["noop"]:
                return

    def _found(self, command: str, key: str, extras: bytes = b"") -> bytes | None:
        """Run a command whose only expected failure is a missing key."""
        status, body = self._request(command, key, extras)
        if status == self.STATUS["key_not_found"]:
            return None
        if status != self.STATUS["success"]:
            raise CacheServerError(f"{self.server}: {command} failed with status {status}: {body}")
        return body or b""

    def touch_key(self, key: str, expiry: int) -> bool:
        return self._found("touch", key, struct.pack("!L", expiry)) is not None

    def delete_key(self, key: str) -> bool:
        return self._found("delete", key) is not None

    def incr_key(self, key: str, delta: int) -> int | None:
        command = "incr" if delta >= 0 else "decr"
        body = self._found(command, key, _INCR_EXTRAS.pack(abs(delta), 0, _NO_AUTO_CREATE))
        return None if body is None else struct.unpack("!Q", body)[0]


class _Client(DistributedClient):
    """Spreads keys over the servers by consistent hashing (uhashring's ketama ring)."""

    def __init__(self, servers, *, retry_delay, **options):
        self.retry_delay = retry_delay
        super().__init__(servers, **options)

    def set_servers(self, servers):
        self._servers = [
            _ServerConnection(
                server=server,
                username=self.username,
                password=self.password,
                compression=self.compression,
                socket_timeout=self.socket_timeout,
                pickle_protocol=self.pickle_protocol,
                pickler=self.pickler,
                unpickler=self.unpickler,
                tls_context=self.tls_context,
                raw_data=self.raw_data,
                retry_delay=self.retry_delay,
            )
            for server in servers
        ]

    def server_for(self, key: str) -> _ServerConnection:
        return self._get_server(key)


def _on_failure(default):
    """Log a server error and return ``default``: a cache failure is a miss."""

    def decorate(method):
        @functools.wraps(method)
        def guarded(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except ServerBackingOff:
                pass  # Logged once, when the server failed.
            except (OSError, MemcachedException, CacheServerError) as error:
                logger.error("cache %s failed: %s", method.__name__, error)
            return default() if callable(default) else default

        return guarded

    return decorate


def _key_missing(key):
    raise ValueError(f"Key '{key}' not found")


class BinaryMemcachedCache(BaseMemcachedCache):
    """Django cache backend for memcached with SASL (MemCachier), on python-binary-memcached."""

    def __init__(self, server, params):
        super().__init__(server, params, library=bmemcached, value_not_found_exception=ValueError)
        options = dict(self._options)
        self._class = _Client
        self._options = {
            "username": options.pop("username", None),
            "password": options.pop("password", None),
            "socket_timeout": options.pop("socket_timeout", 0.2),
            "retry_delay": options.pop("retry_delay", 3),
            "pickle_protocol": pickle.HIGHEST_PROTOCOL,
            **options,
        }

    def get_backend_timeout(self, timeout=DEFAULT_TIMEOUT):
        expiry = super().get_backend_timeout(timeout)
        return EXPIRED_AT_ONCE if expiry < 0 else expiry

    @_on_failure(default=lambda: None)
    def _get(self, key, default):
        return self._cache.get(key, default)

    def get(self, key, default=None, version=None):
        key = self.make_and_validate_key(key, version=version)
        value = self._get(key, default)
        return default if value is None or value == LEASE_MARKER else value

    @_on_failure(default=dict)
    def get_many(self, keys, version=None):
        found = super().get_many(keys, version=version)
        return {key: value for key, value in found.items() if value != LEASE_MARKER}

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
        except (OSError, MemcachedException, CacheServerError) as error:
            logger.error("cache set_many failed: %s", error)
            return list(data)

    def delete_many(self, keys, version=None):
        self.delete_many_unreached(keys, version)

    def delete_many_unreached(self, keys, version=None) -> list[str]:
        """Delete keys; return those whose server could not be reached (down, hung, backing off).

        A missing key is not a failure: it is as deleted as it can be.
        """
        by_server = collections.defaultdict(dict)
        for key in keys:
            safe_key = self.make_and_validate_key(key, version=version)
            by_server[self._cache.server_for(safe_key)][safe_key] = key
        return [
            key for server, names in by_server.items() if not self._delete_on(server, names) for key in names.values()
        ]

    @_on_failure(default=False)
    def _delete_on(self, server: _ServerConnection, keys) -> bool:
        server.delete_keys(list(keys))
        return True

    @_on_failure(default=None)
    def clear(self):
        self._cache.flush_all()

    def close(self, **kwargs):
        # Django calls this after every request. Keep the connection (and its
        # SASL handshake) for the next one.
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

    def server_stats(self) -> dict[str, dict[str, bytes]]:
        return self._cache.stats()


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

    def delete_many_unreached(self, keys, version=None) -> list[str]:
        self.delete_many(keys, version)
        return []  # The process's own memory is always reachable.

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
