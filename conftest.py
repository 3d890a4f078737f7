import time

import pytest
from django.core.cache import cache

from testsupport import postgres
from testsupport.gunicorn import migrate
from testsupport.pytest_plugin import app_environment, memcached_key


@pytest.fixture
def memcached(request):
    """The SASL memcached that the test settings point at."""
    return request.config.stash[memcached_key]


def wait_for_cache(timeout: float = 10.0) -> None:
    """After a test restarted memcached, wait out the client's back-off."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cache.set("test:probe", 1)
        if cache.get("test:probe") == 1:
            return
        time.sleep(0.1)
    raise RuntimeError("the cache did not come back")


@pytest.fixture(autouse=True)
def empty_cache():
    from mc_tasklist import stats
    from mc_tasklist.caching import invalidation

    wait_for_cache()
    invalidation.cache_flushed()
    # The shared counters are rows in the test database, emptied with it after each test.
    stats.discard_unflushed()
    yield
    cache.clear()


@pytest.fixture(scope="module")
def app_env(request):
    """Production settings and a migrated database of its own, for one module's gunicorn instances."""
    memcached = request.config.stash[memcached_key]
    database = postgres.create_database()
    env = {**app_environment(memcached, database), "DJANGO_SECURE_SSL_REDIRECT": "True"}
    migrate(env)
    yield env
    postgres.drop_database(database)
