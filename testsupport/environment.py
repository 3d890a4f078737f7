"""The app's production settings, pointed at servers the tests, the benchmark or the chaos run started.

One builder for all three, so each runs the app exactly as production does,
with one secret key that is plainly not for production.
"""

from sasl_memcached.testing import SaslMemcached

SECRET_KEY = "test-secret-key-not-for-production-0123456789abcdefghijklmnop"


def production_env(*, database_url: str, memcached: SaslMemcached | None = None, **settings: str) -> dict[str, str]:
    """DEVELOPMENT_MODE off, the given servers, and ``settings`` (TASKLIST_..., etc.) on top."""
    env = {
        "DEVELOPMENT_MODE": "False",
        "DEBUG": "False",
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": database_url,
        "DJANGO_ALLOWED_HOSTS": "testserver,localhost,127.0.0.1",
        # Plain HTTP on loopback (the Django test client too); in production TLS
        # ends at App Platform's proxy. The redirect is tested with the proxy header.
        "DJANGO_SECURE_SSL_REDIRECT": "False",
        # The tests, the benchmark and the chaos judge read how each page was served.
        "TASKLIST_X_CACHE_HEADER": "True",
        # Their loads write from one address, far faster than a person.
        "TASKLIST_ANON_WRITES_PER_MINUTE": "0",
    }
    if memcached is not None:
        env.update(memcached.env())
    env.update(settings)
    return env
