"""/healthz: the platform's health check. The database decides; a down cache is degraded, not dead."""

import json

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def health(client, **headers):
    response = client.get("/healthz", **headers)
    return response.status_code, json.loads(response.content)


def test_healthy_with_database_and_cache(client):
    assert health(client) == (200, {"database": "ok", "cache": "ok", "status": "ok"})


def test_answers_any_host_and_plain_http_as_the_platform_probe_sends(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    status, report = health(client, HTTP_HOST="10.244.0.17:8080")
    assert status == 200
    assert report["status"] == "ok"


def test_a_down_cache_is_degraded_not_dead(client, memcached):
    memcached.stop()
    try:
        assert health(client) == (200, {"database": "ok", "cache": "unavailable", "status": "degraded"})
    finally:
        memcached.start()


@pytest.mark.gunicorn
def test_a_down_database_is_unavailable(app_env):
    from testsupport.gunicorn import GunicornInstance
    from testsupport.http import Visitor
    from testsupport.ports import free_port

    no_database = f"postgres://postgres@127.0.0.1:{free_port()}/tasklist"
    instance = GunicornInstance({**app_env, "DATABASE_URL": no_database}, workers=1).start()
    try:
        response = Visitor(instance.port).get("/healthz")
    finally:
        instance.stop()
    assert response.status == 503
    assert json.loads(response.text) == {"database": "unavailable", "cache": "ok", "status": "unavailable"}


def test_is_never_cached(client):
    assert client.get("/healthz")["Cache-Control"] == "no-store"
