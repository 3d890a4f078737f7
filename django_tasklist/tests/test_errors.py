"""When the database is unreachable, visitors get a clear 503 page, never a traceback or a 500."""

import pytest

from testsupport.gunicorn import GunicornInstance
from testsupport.http import Visitor
from testsupport.ports import free_port


@pytest.fixture
def healthy_and_no_database(app_env):
    """Two instances with the same secret key: one with its database, one whose database is gone."""
    no_database = f"postgres://postgres@127.0.0.1:{free_port()}/tasklist"
    healthy = GunicornInstance(app_env, workers=1).start(wait=False)
    broken = GunicornInstance({**app_env, "DATABASE_URL": no_database}, workers=1).start(wait=False)
    try:
        healthy.wait_ready()
        broken.wait_ready()
        yield healthy, broken
    finally:
        healthy.stop()
        broken.stop()


def assert_unavailable_page(response):
    assert response.status == 503
    assert response.headers["Retry-After"] == "5"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Temporarily unavailable" in response.text
    assert "Traceback" not in response.text
    assert "OperationalError" not in response.text


@pytest.mark.gunicorn
def test_the_list_is_a_503_page_when_the_database_is_unreachable(healthy_and_no_database):
    _, broken = healthy_and_no_database
    assert_unavailable_page(Visitor(broken.port).get("/"))


@pytest.mark.gunicorn
def test_a_form_sent_when_the_database_has_gone_gets_a_503_page(healthy_and_no_database):
    healthy, broken = healthy_and_no_database
    visitor = Visitor(healthy.port)
    visitor.get("/")  # The form, and its token, came from a page served before the outage.
    visitor.port = broken.port
    assert_unavailable_page(visitor.post("/add", {"name": "written during the outage"}))
    assert_unavailable_page(visitor.post("/remove", {"id": "1"}))


@pytest.mark.gunicorn
def test_a_flash_message_is_shown_from_the_cache_while_the_database_is_down(healthy_and_no_database):
    healthy, broken = healthy_and_no_database
    visitor = Visitor(healthy.port)
    visitor.get("/")
    assert visitor.post("/add", {"name": "a message waits in a cookie"}).status == 302
    Visitor(healthy.port).get("/")  # Another visitor's read caches the list.
    # The list and its rows come from the cache and the message from the visitor's own
    # cookie: showing it needs no session, so no database.
    visitor.port = broken.port
    response = visitor.get("/")
    assert response.status == 200
    assert "Added “a message waits in a cookie”." in response.text


def test_other_bad_requests_are_still_a_400(client):
    response = client.get("/", HTTP_HOST="not-allowed.example")
    assert response.status_code == 400


def test_other_errors_are_still_a_500():
    from django_tasklist.errors import server_error

    try:
        raise KeyError("a bug")
    except KeyError:
        response = server_error(None)
    assert response.status_code == 500
    assert "Server error" in response.content.decode()
