import pytest
from django.core.cache import cache

from testsupport.pytest_plugin import memcached_key


@pytest.fixture
def memcached(request):
    """The SASL memcached that the test settings point at."""
    return request.config.stash[memcached_key]


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()
