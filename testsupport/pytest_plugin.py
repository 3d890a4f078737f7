"""Starts the real servers the tests need, before Django reads its settings.

Loaded with ``-p testsupport.pytest_plugin`` (see pyproject.toml). Django's
settings read the environment when pytest-django sets Django up, which happens
before any conftest.py is imported; this hook wraps that step.
A missing memcached or PostgreSQL fails the run: it is never skipped.
"""

import os

import pytest

from testsupport import postgres
from testsupport.gunicorn import collectstatic
from testsupport.memcached import SaslMemcached

_memcached: SaslMemcached | None = None


def app_environment(memcached: SaslMemcached, database: str) -> dict[str, str]:
    """Production settings pointed at the test servers."""
    return {
        "DEVELOPMENT_MODE": "False",
        "DEBUG": "False",
        "DJANGO_SECRET_KEY": "test-secret-key-not-for-production-0123456789abcdefghijklmnop",
        "DATABASE_URL": postgres.database_url(database),
        "DJANGO_ALLOWED_HOSTS": "testserver,localhost,127.0.0.1",
        # The Django test client speaks plain HTTP; HTTPS is tested with the
        # proxy header against gunicorn.
        "DJANGO_SECURE_SSL_REDIRECT": "False",
        # Tests flush the stats counters themselves; a background flush would
        # add cache reads to tests that count them. Gunicorn tests lower it.
        "TASKLIST_STATS_FLUSH_SECONDS": "3600",
        **memcached.env(),
    }


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config, parser, args):
    global _memcached
    postgres.require_server()
    _memcached = SaslMemcached().start()
    early_config.stash[memcached_key] = _memcached
    os.environ.update(app_environment(_memcached, "tasklist"))
    try:
        collectstatic(os.environ)
        return (yield)
    except BaseException:
        _memcached.cleanup()
        raise


def pytest_unconfigure(config):
    if _memcached is not None:
        _memcached.cleanup()


memcached_key = pytest.StashKey[SaslMemcached]()
