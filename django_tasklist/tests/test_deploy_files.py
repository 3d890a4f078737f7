"""The deployment files agree with the code: App Platform spec, Procfile, gunicorn config."""

import importlib
import re

import pytest
import yaml

from testsupport.gunicorn import REPO

SPEC = yaml.safe_load((REPO / ".do/app.yaml").read_text())
SERVICE = SPEC["services"][0]


def declared(component) -> dict[str, dict]:
    return {env["key"]: env for env in component["envs"]}


def variables_read_by_settings() -> set[str]:
    source = (REPO / "django_tasklist/settings.py").read_text()
    pattern = r"""(?:os\.environ\.get|os\.environ\[|env_[a-z]+)\(?\s*["']([A-Z_]+)["']"""
    return set(re.findall(pattern, source))


def test_the_spec_runs_the_wsgi_module_with_gunicorn():
    command = SERVICE["run_command"].split()
    assert command[0] == "gunicorn"
    module = command[-1]
    assert module == "django_tasklist.wsgi"
    assert callable(importlib.import_module(module).application)


def test_the_procfile_runs_the_same_command():
    procfile = dict(line.split(": ", 1) for line in (REPO / "Procfile").read_text().splitlines() if line)
    assert procfile["web"] == SERVICE["run_command"]
    assert "migrate" in procfile["release"]


def test_every_variable_the_settings_read_is_declared_for_the_service_and_the_migration_job():
    wanted = variables_read_by_settings()
    assert {"DJANGO_SECRET_KEY", "DATABASE_URL", "MEMCACHIER_SERVERS", "TASKLIST_INVALIDATION"} <= wanted
    assert wanted <= set(declared(SERVICE))
    migrate_job = next(job for job in SPEC["jobs"] if "migrate" in job["run_command"])
    assert {"DJANGO_SECRET_KEY", "DATABASE_URL", "DEVELOPMENT_MODE"} <= set(declared(migrate_job))


def test_migrations_run_as_a_pre_deploy_job():
    jobs = [job for job in SPEC["jobs"] if job["kind"] == "PRE_DEPLOY"]
    assert [job["run_command"] for job in jobs] == ["python manage.py migrate --noinput"]


def test_production_is_configured_as_production():
    envs = declared(SERVICE)
    assert envs["DEVELOPMENT_MODE"]["value"] == "False"
    assert envs["DEBUG"]["value"] == "False"
    assert envs["DATABASE_URL"]["value"] == "${db.DATABASE_URL}"
    assert envs["DJANGO_ALLOWED_HOSTS"]["value"] == "${APP_DOMAIN}"


@pytest.mark.parametrize("secret", ["DJANGO_SECRET_KEY", "MEMCACHIER_PASSWORD"])
def test_secrets_are_placeholders_marked_secret(secret):
    env = declared(SERVICE)[secret]
    assert env["type"] == "SECRET"
    assert re.fullmatch(r"<[A-Z_]+>", env["value"])


def test_the_secret_key_is_given_to_the_running_app_only_not_to_the_build():
    assert declared(SERVICE)["DJANGO_SECRET_KEY"]["scope"] == "RUN_TIME"


def test_the_health_check_uses_the_route_that_checks_the_database():
    from django_tasklist.health import HEALTH_PATH

    assert SERVICE["health_check"]["http_path"] == HEALTH_PATH


def test_gunicorn_reads_port_and_web_concurrency(monkeypatch):
    monkeypatch.setenv("PORT", "9123")
    monkeypatch.setenv("WEB_CONCURRENCY", "5")
    config = {}
    exec((REPO / "gunicorn.conf.py").read_text(), config)
    assert config["bind"] == "0.0.0.0:9123"
    assert config["workers"] == 5
