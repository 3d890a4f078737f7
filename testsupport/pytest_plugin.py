"""Starts the real servers the tests need, before Django reads its settings.

Loaded with ``-p testsupport.pytest_plugin`` (see pyproject.toml). Django's
settings read the environment when pytest-django sets Django up, which happens
before any conftest.py is imported; this hook wraps that step.
A missing memcached or PostgreSQL fails the run: it is never skipped.

``TASKLIST_TEST_SERVERS=none`` (make test-fast) starts nothing: the tests marked
``fast`` then run on what ``make run`` uses, SQLite and the in-process cache.
"""

import os

import pytest
from sasl_memcached.testing import SaslMemcached

from testsupport import postgres
from testsupport.environment import production_env
from testsupport.gunicorn import collectstatic

_memcached: SaslMemcached | None = None


def app_environment(memcached: SaslMemcached, database: str) -> dict[str, str]:
    """Production settings pointed at the test servers."""
    return production_env(database_url=postgres.database_url(database), memcached=memcached)


def without_servers() -> bool:
    return os.environ.get("TASKLIST_TEST_SERVERS") == "none"


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config, parser, args):
    global _memcached
    if without_servers():
        for name in ("DATABASE_URL", "MEMCACHIER_SERVERS", "MEMCACHIER_USERNAME", "MEMCACHIER_PASSWORD"):
            os.environ.pop(name, None)
        os.environ.update(DEVELOPMENT_MODE="True", TASKLIST_ANON_WRITES_PER_MINUTE="0")
        return (yield)
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
