import pytest

from sasl_memcached.testing import SaslMemcached


@pytest.fixture(scope="session")
def memcached():
    """A memcached requiring SASL authentication, as MemCachier does, for the whole run."""
    server = SaslMemcached().start()
    yield server
    server.cleanup()
