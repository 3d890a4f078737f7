"""Start-up check: wrong memcached credentials are an error before any page is served."""

from django.core import checks
from django.core.cache import caches

from sasl_memcached.backend import BinaryMemcachedCache


@checks.register(checks.Tags.caches)
def memcached_credentials(app_configs=None, **kwargs):
    """Log in to each server of every BinaryMemcachedCache once.

    Wrong credentials are an error. An unreachable server is only a warning:
    the app works without its cache, and the server may come up later.
    """
    problems = []
    for alias in caches:
        cache = caches[alias]
        if not isinstance(cache, BinaryMemcachedCache):
            continue
        for server, ping in cache.ping_servers().items():
            if ping.refusal:
                problems.append(
                    checks.Error(
                        f"memcached {server} refused the configured credentials: {ping.refusal}",
                        hint="Check MEMCACHIER_USERNAME and MEMCACHIER_PASSWORD.",
                        id="sasl_memcached.E001",
                    )
                )
            elif not ping.reachable:
                problems.append(
                    checks.Warning(
                        f"memcached {server} is not reachable; pages will come from the database",
                        hint="Check MEMCACHIER_SERVERS, or start the server.",
                        id="sasl_memcached.W001",
                    )
                )
    return problems
