import pytest
from django.test import Client

from testsupport.gunicorn import GunicornInstance
from testsupport.pages import csrf_tokens


class Browser(Client):
    """A test client that checks CSRF tokens and submits forms from the page, as a browser does."""

    def __init__(self, **kwargs):
        super().__init__(enforce_csrf_checks=True, **kwargs)

    def token(self) -> str:
        return csrf_tokens(self.get("/").content.decode())[0]

    def submit(self, path: str, data: dict, **kwargs):
        return self.post(path, {"csrfmiddlewaretoken": self.token(), **data}, **kwargs)

    def add(self, name: str, **kwargs):
        return self.submit("/add", {"name": name}, **kwargs)

    def remove(self, task_id, **kwargs):
        return self.submit("/remove", {"id": task_id}, **kwargs)


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
