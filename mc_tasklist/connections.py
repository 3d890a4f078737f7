"""This thread's database connection, given back to the worker's pool while it waits on something else."""

from django.db import connection


def give_back() -> None:
    """Return the connection to the pool; the next query takes one again.

    A write that waits on the cache (up to its timeout, when a server hangs) or on
    another process would otherwise hold one of the worker's few connections, and
    the requests behind it would queue for the pool.
    """
    if getattr(connection, "pool", None) is not None and not connection.in_atomic_block:
        connection.close()
