"""Start-up checks: a TLS CA file that is not there, or wrong memcached credentials, are errors
before any page is served."""

from pathlib import Path

from django.conf import settings
from django.core import checks
from django.core.cache import caches

from sasl_memcached.backend import IGNORED_OPTIONS, BinaryMemcachedCache

BACKEND = f"{BinaryMemcachedCache.__module__}.{BinaryMemcachedCache.__qualname__}"


def _tls_problem(options: dict) -> str | None:
    ca_file = options.get("tls_ca_file")
    if ca_file and not options.get("tls"):
        return "OPTIONS['tls_ca_file'] is set but OPTIONS['tls'] is not"
    if ca_file and not Path(ca_file).is_file():
        return f"OPTIONS['tls_ca_file'] must name a readable file, not {ca_file!r}"
    return None


def _options_of_this_backends_caches():
    """(alias, OPTIONS) of every cache in the settings that uses this backend."""
    for alias, config in settings.CACHES.items():
        if config.get("BACKEND") == BACKEND:
            yield alias, config.get("OPTIONS", {})


@checks.register(checks.Tags.caches)
def tls_options(app_configs=None, **kwargs):
    return [
        checks.Error(f"cache {alias!r}: {problem}", id="sasl_memcached.E002")
        for alias, options in _options_of_this_backends_caches()
        if (problem := _tls_problem(options))
    ]


@checks.register(checks.Tags.caches)
def ignored_options(app_configs=None, **kwargs):
    """Options carried over from django-bmemcached that this backend does not use, named rather than ignored."""
    return [
        checks.Warning(
            f"cache {alias!r}: OPTIONS {', '.join(sorted(names))} have no effect with this backend",
            hint="Values are always pickled, signed, and above 1 KB compressed with Zstandard; remove these options.",
            id="sasl_memcached.W002",
        )
        for alias, options in _options_of_this_backends_caches()
        if (names := IGNORED_OPTIONS & set(options))
    ]


@checks.register(checks.Tags.caches)
def memcached_credentials(app_configs=None, **kwargs):
    """Log in to each server of every BinaryMemcachedCache once.

    Wrong credentials are an error. An unreachable server is only a warning:
    the app works without its cache, and the server may come up later.
    """
    problems = []
    for alias in caches:
        if _tls_problem(settings.CACHES[alias].get("OPTIONS", {})):
            continue  # tls_options says why; the client cannot even be made
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
