"""A Django cache backend for memcached with SASL (as MemCachier needs), and its in-process twin.

Two backends with one API: Django's documented cache API, return values and
exceptions included, and four extensions that a caching policy needs to stay
correct across processes:

``lease(key, timeout, version=None)``
    Claim an absent key for filling. Returns a token (truthy) if this caller
    may fill it; ``None`` if the key has a value or another caller's lease;
    ``CACHE_UNAVAILABLE`` if the server cannot be asked, so nobody will fill
    it and nobody should wait. While leased, the key reads as a miss.

``set_if_leased(key, lease, value, timeout=DEFAULT_TIMEOUT, version=None)``
    Store ``value`` only if the key still holds that lease: not deleted or
    replaced since. A ``delete`` of the key therefore voids a fill that started
    before it. Returns whether it stored.

``set_unless(key, value, keep, timeout=DEFAULT_TIMEOUT, version=None)``
    Store ``value`` unless the key holds a value for which ``keep(current)``
    is true (compare-and-swap, so two writers cannot undo each other): for
    entries that carry a version, ``keep`` says "at least as new". A lease's
    placeholder is replaced. Returns whether the key holds ``value`` or a kept
    value; False if the server cannot be reached.

Backends, for ``CACHES["default"]["BACKEND"]``:

* ``sasl_memcached.backend.BinaryMemcachedCache``: memcached over the binary
  protocol, SASL PLAIN, consistent hashing over several servers; a failing
  server is a miss and is skipped for a few seconds (backend.py);
* ``sasl_memcached.locmem.LocMemLeaseCache``: Django's in-process cache with
  the same extensions, for development and unit tests (locmem.py).

Add ``"sasl_memcached"`` to ``INSTALLED_APPS`` for the start-up checks that
refuse wrong credentials and TLS options that cannot work (checks.py).
``sasl_memcached.testing`` starts a real SASL memcached for tests.
"""

from sasl_memcached.leases import CACHE_UNAVAILABLE

__all__ = ["CACHE_UNAVAILABLE"]
