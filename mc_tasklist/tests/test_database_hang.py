"""A PostgreSQL that hangs is an outage too: reads go on from the cache, exact, and writes get the 503 page
within their deadline, not when the hang ends.

A PostgreSQL cluster of this module's own, every process of it stopped with SIGSTOP: it accepts
connections and bytes and never answers, as a stalled disk or a failover that leaves the old address
silent. One gunicorn instance of two workers in production mode, and a SASL memcached of its own.
"""

import time

import pytest
from sasl_memcached.testing import SaslMemcached

from testsupport.environment import production_env
from testsupport.gunicorn import GunicornInstance
from testsupport.http import Visitor
from testsupport.pages import task_names
from testsupport.postgres import OwnPostgres

pytestmark = pytest.mark.gunicorn

READ_WITHIN = 1.0  # seconds, for every read while the database hangs
UNAVAILABLE_WITHIN = 2.0  # for a write's 503 page: the pool's wait, a check, the statement's deadline
FROZEN_FOR = 6.0


@pytest.fixture(scope="module")
def app():
    postgres, memcached = OwnPostgres().start(), SaslMemcached().start()
    env = production_env(database_url="", memcached=memcached, DJANGO_SECURE_SSL_REDIRECT="True")
    env["DATABASE_URL"] = postgres.app_database("hang", env)
    instance = GunicornInstance(env, workers=2).start()
    try:
        yield instance, postgres
    finally:
        instance.stop()
        memcached.cleanup()
        postgres.stop()


def timed(call):
    started = time.monotonic()
    return call(), time.monotonic() - started


def test_reads_go_on_exact_and_an_add_gets_the_503_page_within_its_deadline(app):
    instance, postgres = app
    writer = Visitor(instance.port)
    assert writer.post("/add", {"name": "acknowledged before the hang"}).status == 302
    for _ in range(8):
        Visitor(instance.port).get("/")  # both workers have read the version and the page
    postgres.freeze_server()
    frozen_at = time.monotonic()
    try:
        for _ in range(16):
            response, seconds = timed(lambda: Visitor(instance.port).get("/"))
            assert response.status == 200
            assert seconds < READ_WITHIN
            assert "acknowledged before the hang" in task_names(response.text)
        response, seconds = timed(lambda: writer.post("/add", {"name": "refused during the hang"}))
        assert response.status == 503
        assert seconds < UNAVAILABLE_WITHIN, f"the add waited {seconds:.2f} s"
        assert response.headers["Retry-After"] == "5"
    finally:
        time.sleep(max(0.0, frozen_at + FROZEN_FOR - time.monotonic()))
        postgres.thaw_server()
    deadline = time.monotonic() + 10
    while (answer := writer.post("/add", {"name": "written once it answers"})).status != 302:
        assert time.monotonic() < deadline, f"still {answer.status} 10 s after the database came back"
        time.sleep(0.1)
    names = task_names(Visitor(instance.port).get("/").text)
    assert names[0] == "written once it answers"
    assert "refused during the hang" not in names
