"""The backend passes Django's own memcached test suite, on a SASL memcached: from this folder, and
installed from its wheel into a virtual environment that holds Django and nothing else.

Django's source distribution carries tests/cache/tests.py with ``BaseMemcachedTests``,
the assertions every memcached backend of Django's own meets.
``sasl_memcached/django_suite.py`` subclasses it for this backend, and
``sasl_memcached.testing.run_djangos_memcached_tests`` runs it with Django's
runtests.py, as Django's CI runs its backends. DJANGO_TESTS_DIR names the tests/
folder of an unpacked Django source distribution of the installed version.
"""

import os
import subprocess
import sys
from pathlib import Path

import django
import pytest

from sasl_memcached.testing import SuiteResult, run_djangos_memcached_tests

PACKAGE = Path(__file__).resolve().parent.parent
# BaseMemcachedTests in Django 5.2: 59 tests, of which Django itself skips 3 for every memcached backend.
DJANGOS_OWN_SKIPS = 3


@pytest.fixture(scope="module")
def django_tests() -> Path:
    folder = Path(os.environ.get("DJANGO_TESTS_DIR", ""))
    if not (folder / "runtests.py").is_file():
        pytest.fail(f"DJANGO_TESTS_DIR must name the tests/ folder of Django {django.__version__}'s sources")
    return folder


def assert_all_passed(result: SuiteResult) -> None:
    assert result.ran >= 59 and result.failed == 0, result.report[-6000:]
    assert result.skipped == DJANGOS_OWN_SKIPS, result.report[-2000:]


def test_djangos_memcached_tests_pass_against_the_backend(django_tests, memcached):
    assert_all_passed(run_djangos_memcached_tests(django_tests, memcached, pythonpath=str(PACKAGE)))


def test_the_wheel_installed_alone_passes_them_too(django_tests, memcached, tmp_path):
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path / "dist"), str(PACKAGE)],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("django_sasl_memcached-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True)
    python = str(tmp_path / "venv" / "bin" / "python")
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", str(wheel), f"Django=={django.__version__}"],
        check=True,
        capture_output=True,
    )
    installed = subprocess.run(
        [python, "-c", "import sasl_memcached, django_tasklist"], cwd=tmp_path, capture_output=True, text=True
    )
    assert "No module named 'django_tasklist'" in installed.stderr, "the venv holds the package and Django alone"
    where = subprocess.run(
        [python, "-c", "import sasl_memcached; print(sasl_memcached.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.startswith(str(tmp_path / "venv")), where.stdout
    assert_all_passed(run_djangos_memcached_tests(django_tests, memcached, python=python))
