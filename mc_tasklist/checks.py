"""Start-up checks: a misconfigured cache is an error before any page is served."""

from bmemcached.exceptions import MemcachedException
from django.core import checks
from django.core.cache import caches

from django_tasklist.cache_backends import BinaryMemcachedCache


@checks.register(checks.Tags.caches)
def memcached_credentials(app_configs=None, **kwargs):
    """Log in to each memcached server once.

    Wrong credentials are an error. An unreachable server is only a warning:
    the app works without its cache, and the server may come up later.
    """
    cache = caches["default"]
    if not isinstance(cache, BinaryMemcachedCache):
        return []
    problems = []
    for server in cache._cache.servers:
        try:
            status = server.noop()
        except MemcachedException as error:
            problems.append(
                checks.Error(
                    f"memcached {server.server} refused the configured credentials: {error}",
                    hint="Check MEMCACHIER_USERNAME and MEMCACHIER_PASSWORD.",
                    id="mc_tasklist.E001",
                )
            )
            continue
        if status != 0:
            problems.append(
                checks.Warning(
                    f"memcached {server.server} is not reachable; pages will come from the database",
                    hint="Check MEMCACHIER_SERVERS, or start the server.",
                    id="mc_tasklist.W001",
                )
            )
    # The check runs in gunicorn's master too: leave no connection for its workers to inherit.
    cache._cache.disconnect_all()
    return problems
