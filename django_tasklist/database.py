"""The production database settings, from DATABASE_URL and the pool's size (settings.py reads both)."""

import dj_database_url
from django.core.exceptions import ImproperlyConfigured


def database_from_url(
    url: str, *, pool_size: int, conn_max_age: int, one_off_command: bool, connection_class: type | None = None
) -> dict:
    """DATABASES for PostgreSQL at ``url``.

    gunicorn runs 16 threads per worker (gunicorn.conf.py). A connection kept per
    thread would multiply connections by threads, past what a small managed
    PostgreSQL allows (22 on App Platform's smallest), and opening one per request
    costs a write about a quarter of its time. So each worker shares a small pool
    (Django's, on psycopg_pool), checked before each use; a request that waits for
    a connection longer than half a second gets the 503 page, and a database that
    comes back is connected to again within about a second.

    The pool's connections are of ``connection_class``: the app's gives every
    statement a deadline (mc_tasklist/connections.py).

    Not for a one-off command (migrate in the pre-deploy job, shell, cachestats):
    it has one connection's work to do and should wait for its database as long
    as connect_timeout allows, not the half second a request may (chaos caught a
    migrate failing so on a fresh server).
    """
    if pool_size and conn_max_age:
        raise ImproperlyConfigured("Set DATABASE_POOL_SIZE=0 to keep connections with DATABASE_CONN_MAX_AGE")
    default = dj_database_url.parse(url, conn_max_age=conn_max_age, conn_health_checks=True)
    options = default.setdefault("OPTIONS", {})
    if pool_size and not one_off_command:
        options["pool"] = {
            # All opened at the worker's first query: a pool that grew on demand, one connection at a
            # time from a thread competing with 16 busy ones, made writes wait past the 0.5 s below.
            # One more than the requests share: the process holds it to read the list's version
            # (mc_tasklist/connections.py, HeldConnection).
            "min_size": pool_size + 1,
            "max_size": pool_size + 1,
            "timeout": 0.5,
            # The pool retries a failed connection with a growing back-off; giving up after a second
            # lets the next request start again at once, so a restarted database is not waited for.
            "reconnect_timeout": 1.0,
        }
        if connection_class is not None:
            options["pool"]["connection_class"] = connection_class
    # An unreachable database fails a request in seconds instead of hanging it.
    options["connect_timeout"] = 5
    return {"default": default}
