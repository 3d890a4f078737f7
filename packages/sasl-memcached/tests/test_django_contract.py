"""The installed backend passes Django's own memcached test suite, of the installed Django's version, on a
SASL memcached.

Django's source distribution carries tests/cache/tests.py with ``BaseMemcachedTests``, the assertions
every memcached backend of Django's own meets (Django 6.1 adds its async tests to them).
``sasl_memcached/django_suite.py`` subclasses it for this backend, and
``sasl_memcached.testing.run_djangos_memcached_tests`` runs it with Django's runtests.py, as Django's CI
runs its backends. DJANGO_TESTS_DIR names the tests/ folder of the installed Django's source
distribution. noxfile.py runs this on every supported pair of Python and Django, each in a virtual
environment that holds the built wheel, Django and the test tools alone.
"""

import os
from pathlib import Path

import django
import pytest

import sasl_memcached
from sasl_memcached.testing import run_djangos_memcached_tests

SOURCES = Path(__file__).resolve().parent.parent
# BaseMemcachedTests in Django 5.2 and 6.0: 59 tests; 6.1 adds 8. Django itself skips 3 of them for
# every memcached backend.
DJANGOS_TESTS = 67 if django.VERSION >= (6, 1) else 59
DJANGOS_OWN_SKIPS = 3


@pytest.fixture(scope="module")
def django_tests() -> Path:
    folder = Path(os.environ.get("DJANGO_TESTS_DIR", ""))
    if not (folder / "runtests.py").is_file():
        pytest.fail(f"DJANGO_TESTS_DIR must name the tests/ folder of Django {django.__version__}'s sources")
    return folder


def test_djangos_memcached_tests_pass_against_the_backend(django_tests, memcached):
    result = run_djangos_memcached_tests(django_tests, memcached)
    assert result.ran == DJANGOS_TESTS and result.failed == 0, result.report[-6000:]
    assert result.skipped == DJANGOS_OWN_SKIPS, result.report[-2000:]


def test_what_is_tested_is_the_installed_package_not_these_sources():
    assert SOURCES / "src" not in Path(sasl_memcached.__file__).resolve().parents, sasl_memcached.__file__
    assert "site-packages" in Path(sasl_memcached.__file__).parts
