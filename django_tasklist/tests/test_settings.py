"""Configuration comes from the environment, and a bad one stops the app at start.

Each case runs manage.py in a new process with its own environment, because
settings are read once, at start.
"""

import os
import subprocess
import sys

import pytest

from testsupport.gunicorn import REPO, GunicornInstance
from testsupport.pytest_plugin import memcached_key

UNSET = None


def environment(**env) -> dict[str, str]:
    """The test run's environment with ``env`` in it (UNSET: taken out)."""
    merged = {key: value for key, value in os.environ.items() if key not in env}
    merged.update({key: value for key, value in env.items() if value is not UNSET})
    return merged


def manage(*args, **env):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=environment(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def show(setting, **env):
    code = f"from django.conf import settings; print(repr(settings.{setting}))"
    result = manage("shell", "--no-imports", "-c", code, **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_production_refuses_to_start_without_a_secret_key():
    result = manage("check", DJANGO_SECRET_KEY=UNSET)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set when DEVELOPMENT_MODE is False" in result.stderr


def test_production_refuses_to_start_without_a_database_url():
    result = manage("check", DATABASE_URL=UNSET)
    assert result.returncode != 0
    assert "DATABASE_URL must be set when DEVELOPMENT_MODE is False" in result.stderr


def test_development_mode_needs_nothing_and_uses_sqlite_and_the_process_cache():
    env = {name: UNSET for name in os.environ if name.startswith(("DJANGO_", "MEMCACHIER_", "DATABASE_", "DEBUG"))}
    env["DEVELOPMENT_MODE"] = UNSET
    assert "sqlite3" in show("DATABASES['default']['ENGINE']", **env)
    assert "LocMemLeaseCache" in show("CACHES['default']['BACKEND']", **env)
    assert show("DEBUG", **env) == "True"


def pool_as_a_server_sees_it(**env) -> str:
    """The pool setting in a process that is not manage.py (gunicorn's workers, pytest)."""
    code = (
        "import django; django.setup(); from django.conf import settings;"
        " print(settings.DATABASES['default']['OPTIONS'].get('pool'))"
    )
    env = {"DJANGO_SETTINGS_MODULE": "django_tasklist.settings", **env}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=environment(**env), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_each_worker_shares_a_small_pool_of_database_connections_by_default():
    # The four the requests share, and one the process holds to read the list's version.
    assert "'max_size': 5" in pool_as_a_server_sees_it(DATABASE_POOL_SIZE=UNSET)
    assert pool_as_a_server_sees_it(DATABASE_POOL_SIZE="0") == "None"


def test_a_one_off_command_connects_without_the_pool():
    assert show("DATABASES['default']['OPTIONS'].get('pool')", DATABASE_POOL_SIZE="4") == "None"


def test_a_pool_and_kept_connections_cannot_be_asked_for_together():
    result = manage("check", DATABASE_POOL_SIZE="4", DATABASE_CONN_MAX_AGE="60")
    assert result.returncode != 0
    assert "Set DATABASE_POOL_SIZE=0 to keep connections with DATABASE_CONN_MAX_AGE" in result.stderr


def test_debug_is_off_in_production_unless_set():
    assert show("DEBUG", DEBUG=UNSET) == "False"
    assert show("DEBUG", DEBUG="True") == "True"


def test_allowed_hosts_come_from_a_comma_list():
    assert (
        show("ALLOWED_HOSTS", DJANGO_ALLOWED_HOSTS="a.example.com, b.example.com")
        == "['a.example.com', 'b.example.com']"
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MEMCACHIER_PASSWORD": ""}, "Set both MEMCACHIER_USERNAME and MEMCACHIER_PASSWORD, or neither"),
        ({"MEMCACHIER_SERVERS": ""}, "MEMCACHIER_USERNAME or MEMCACHIER_PASSWORD is set but MEMCACHIER_SERVERS is not"),
        ({"TASKLIST_CACHE_LAYERS": "query,pages"}, "TASKLIST_CACHE_LAYERS has unknown layers: ['pages']"),
        ({"TASKLIST_INVALIDATION": "purge"}, "TASKLIST_INVALIDATION must be one of"),
        ({"TASKLIST_CACHE_TTL": "soon"}, "TASKLIST_CACHE_TTL must be a number"),
        ({"TASKLIST_CACHE_TTL": "0"}, "TASKLIST_CACHE_TTL must be at least 1"),
        ({"TASKLIST_SESSION_ENGINE": "file"}, "TASKLIST_SESSION_ENGINE must be one of"),
        ({"DEBUG": "maybe"}, "DEBUG must be True or False"),
        (
            {"TASKLIST_CACHE_TLS": "True", "TASKLIST_CACHE_TLS_CA_FILE": "/no/such/file.pem"},
            "OPTIONS['tls_ca_file'] must name a readable file, not '/no/such/file.pem'",
        ),
        ({"TASKLIST_CACHE_TLS_CA_FILE": __file__}, "OPTIONS['tls_ca_file'] is set but OPTIONS['tls'] is not"),
        ({"TASKLIST_LOG_LEVEL": "LOUD"}, "TASKLIST_LOG_LEVEL must be one of"),
    ],
)
def test_a_misconfiguration_is_a_clear_error_at_start(env, message):
    result = manage("check", **env)
    assert result.returncode != 0
    assert message in result.stderr


@pytest.mark.parametrize(
    "variable",
    ["DJANGO_SECRET_KEY", "DATABASE_URL", "MEMCACHIER_SERVERS", "MEMCACHIER_USERNAME", "MEMCACHIER_PASSWORD"],
)
def test_a_placeholder_left_from_the_spec_stops_the_app_and_names_the_variable(variable):
    import yaml

    spec = yaml.safe_load((REPO / ".do/app.yaml").read_text())
    placeholder = next(env["value"] for env in spec["services"][0]["envs"] if env["key"] == variable)
    result = manage("check", **{variable: placeholder})
    assert result.returncode != 0
    assert f"{variable} is still the placeholder {placeholder!r}: set the real value" in result.stderr


@pytest.mark.parametrize(
    "key", ["django-insecure-development-only-key-do-not-deploy", "short-key", "a" * 60, "CHANGEME"]
)
def test_a_weak_or_example_secret_key_stops_production(key):
    result = manage("check", DJANGO_SECRET_KEY=key)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_wrong_memcached_credentials_stop_the_checks(request):
    memcached = request.config.stash[memcached_key]
    result = manage("check", MEMCACHIER_PASSWORD="wrong", MEMCACHIER_USERNAME=memcached.username)
    assert result.returncode != 0
    assert "sasl_memcached.E001" in result.stderr
    assert "refused the configured credentials" in result.stderr


def test_gunicorn_refuses_to_start_with_wrong_memcached_credentials():
    instance = GunicornInstance({"MEMCACHIER_PASSWORD": "wrong"}).start(wait=False)
    try:
        assert instance.process.wait(timeout=30) != 0
    finally:
        instance.stop()


def test_an_unreachable_memcached_is_only_a_warning():
    result = manage("check", MEMCACHIER_SERVERS="127.0.0.1:1")
    assert result.returncode == 0, result.stderr
    assert "sasl_memcached.W001" in result.stderr


@pytest.mark.parametrize("engine", ["cache", "cached_db"])
def test_the_session_engine_is_chosen_by_the_environment(engine):
    assert show("SESSION_ENGINE", TASKLIST_SESSION_ENGINE=engine) == f"'django.contrib.sessions.backends.{engine}'"


def test_cached_db_sessions_are_the_default():
    assert show("SESSION_ENGINE", TASKLIST_SESSION_ENGINE=UNSET) == "'django.contrib.sessions.backends.cached_db'"


def test_check_deploy_passes_on_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", DJANGO_SECURE_SSL_REDIRECT=UNSET)
    assert result.returncode == 0, result.stdout + result.stderr


def test_collectstatic_runs_without_a_database_or_secret_key_as_the_build_step_does(tmp_path):
    result = manage("collectstatic", "--noinput", "--dry-run", DATABASE_URL=UNSET, DJANGO_SECRET_KEY=UNSET)
    assert result.returncode == 0, result.stderr


def test_every_model_change_has_a_migration():
    result = manage("makemigrations", "--check", "--dry-run")
    assert result.returncode == 0, result.stdout
