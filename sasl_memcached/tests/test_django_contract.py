"""The backend passes Django's own memcached test suite, on the SASL memcached.

Django's source distribution (pinned in requirements-django-tests.txt, unpacked
by ``make test`` into .venv/django-tests) carries tests/cache/tests.py with
``BaseMemcachedTests``, the assertions every memcached backend of Django's own
meets. django_suite.py subclasses it for our backend; this test runs it with
Django's runtests.py, as Django's CI runs its backends.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

from testsupport.gunicorn import REPO

DJANGO_TESTS = REPO / ".venv" / "django-tests" / "tests"
SUITE = Path(__file__).with_name("django_suite.py")


def test_djangos_memcached_tests_pass_against_the_backend(memcached):
    assert (DJANGO_TESTS / "runtests.py").exists(), "Django's test suite is missing: run `make test`"
    # Inside Django's "cache" test package, so runtests.py installs that app and its models.
    link = DJANGO_TESTS / "cache" / "test_sasl_memcached.py"
    link.unlink(missing_ok=True)
    link.symlink_to(SUITE)
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "DJANGO_SETTINGS_MODULE": "test_sqlite",
        "SASL_MEMCACHED_LOCATION": memcached.server,
        "SASL_MEMCACHED_USERNAME": memcached.username,
        "SASL_MEMCACHED_PASSWORD": memcached.password,
    }
    result = subprocess.run(
        [sys.executable, "runtests.py", "--settings=test_sqlite", "--parallel=1", "cache.test_sasl_memcached"],
        cwd=DJANGO_TESTS,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = result.stderr + result.stdout
    assert result.returncode == 0, report[-6000:]
    ran = re.search(r"Ran (\d+) tests?", report)
    assert ran and int(ran.group(1)) >= 50, report[-2000:]
