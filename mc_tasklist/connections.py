"""Database connections for requests: each wait on the server has a deadline, a connection is given
back to the worker's pool while its thread waits on something else, and one is held for the statement
a process runs most often."""

import contextlib
import contextvars

import psycopg
from django.conf import settings
from django.db import OperationalError, connection

# A shorter deadline than settings.DATABASE_QUERY_TIMEOUT for the statements of one block of code.
_shorter_timeout = contextvars.ContextVar("shorter_timeout", default=None)


class DeadlineConnection(psycopg.Connection):
    """A psycopg connection whose every wait on the server ends by a deadline.

    PostgreSQL's statement_timeout is enforced by the server, so a server that hangs
    (a stalled disk, a failover that leaves the old address silent, SIGSTOP in the
    tests) never sends it: without a deadline on our side, a write waited as long
    as the hang lasted. Past the deadline the connection is in an unknown state, so
    it is closed; the pool then replaces it, and the request gets the 503 page.
    """

    def wait(self, gen, interval=0.1, timeout=None):
        try:
            if timeout is None:
                timeout = _statement_timeout()
            return super().wait(gen, interval, timeout)
        except psycopg.OperationalError:
            if self.pgconn.transaction_status == psycopg.pq.TransactionStatus.ACTIVE:
                self.pgconn.finish()  # a statement in flight that will never be answered
            raise


def _statement_timeout() -> float:
    """How long the statement about to run may wait for the server."""
    return _shorter_timeout.get() or settings.DATABASE_QUERY_TIMEOUT


@contextlib.contextmanager
def query_timeout(seconds: float):
    """A shorter deadline for the statements run inside (the list version's read)."""
    token = _shorter_timeout.set(min(seconds, settings.DATABASE_QUERY_TIMEOUT))
    try:
        yield
    finally:
        _shorter_timeout.reset(token)


def give_back() -> None:
    """Return the connection to the pool; the next query takes one again.

    A write that waits (its commit wait, or on the cache up to its timeout when a
    server hangs) would otherwise hold one of the worker's few connections, and the
    requests behind it would queue for the pool.
    """
    if getattr(connection, "pool", None) is not None and not connection.in_atomic_block:
        connection.close()


class HeldConnection:
    """One of the worker's pooled connections, taken once and kept, for a small statement run very often.

    The list's version is read by every process up to 200 times a second (caching/list_version.py).
    Through the pool each read checked a connection out, had the pool check it with a round trip of
    its own, ran the query through Django's cursor and gave it back: 328 µs of CPU and 561 µs of wall
    time, single-threaded, against 132 and 276 µs on a held connection. The pool keeps one connection
    more for it (django_tasklist/database.py); one that fails goes back to the pool, which replaces it
    in the background, so no request waits for a connect to a hung server. Without a pool (SQLite in
    development, DATABASE_POOL_SIZE=0) the thread's own connection is used.
    """

    def __init__(self):
        self._held = None

    def fetchone(self, sql: str) -> tuple | None:
        pool = getattr(connection, "pool", None)
        if pool is None:
            with connection.cursor() as cursor:
                cursor.execute(sql)
                return cursor.fetchone()
        try:
            if self._held is None:
                pool.open()  # as Django does before its first connection
                # No longer than a statement may take: the pool replaces broken connections in the background.
                self._held = pool.getconn(_statement_timeout())
            return self._held.execute(sql).fetchone()
        except psycopg.Error as error:  # the pool's timeout is one too
            self._give_back(pool)
            raise OperationalError(str(error)) from error

    def _give_back(self, pool) -> None:
        held, self._held = self._held, None
        if held is not None:
            pool.putconn(held)  # a broken one is discarded and replaced by the pool
