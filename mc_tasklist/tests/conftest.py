import pytest

from mc_tasklist.tests.browsing import Browser
from testsupport.gunicorn import GunicornInstance


@pytest.fixture
def browser():
    return Browser()


@pytest.fixture
def other_browser():
    return Browser()


@pytest.fixture
def cache_setup(settings):
    """Choose the caching setup for one test: cache_setup(layers="query,page", invalidation="version")."""

    def configure(*, layers="query,fragment,page", invalidation="delete", ttl=60, query_delay=0):
        settings.TASKLIST_CACHE_LAYERS = frozenset(filter(None, layers.split(",")))
        settings.TASKLIST_INVALIDATION = invalidation
        settings.TASKLIST_CACHE_TTL = ttl
        settings.TASKLIST_QUERY_DELAY = query_delay

    configure()
    return configure


@pytest.fixture
def instances(app_env):
    """Start gunicorn instances on the shared test database: instances(TASKLIST_INVALIDATION="version")."""
    started = []

    def start(**settings):
        env = {**app_env, **{key: str(value) for key, value in settings.items()}}
        pair = [GunicornInstance(env, workers=2).start(wait=False) for _ in range(2)]
        started.extend(pair)
        for instance in pair:
            instance.wait_ready()
        return pair

    yield start
    for instance in started:
        instance.stop()
