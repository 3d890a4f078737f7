"""The test matrix: every pair of Python and Django the package declares, each in a fresh virtual environment
that holds the built wheel, that Django, and the test tools alone.

    nox                      # every pair (make test runs it)
    nox -s "tests(3.13-django6.1.3)"
    nox -l                   # the pairs

Each pair runs the package's tests (tests/) against a SASL memcached they start, and Django's own
memcached test suite from the source distribution of that very Django version, downloaded once and
checked against its hash. The interpreters are looked up as python3.10 ... python3.13 on PATH.
"""

import functools
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import nox

nox.options.error_on_missing_interpreters = True  # a pair that cannot run fails, never passes by skipping
nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = False

HERE = Path(__file__).resolve().parent
# The latest patch of each Django release in support, with its source distribution's SHA-256.
DJANGO = {
    "5.2.20": "37a2895b4039ad388ffc8fb62603aba497b0c2fe884eb40ead3e8ad7a3ccad57",
    "6.0.10": "6005d030df924f85088454c18bd35dcf082b058aa355ad3df520d8de9aef9f41",
    "6.1.3": "b5d2d9e35295065d13b1927b3f19a59bd119f737aa6299def14ccca1ae3c8c0d",
}
# Django 5.2 runs on Python 3.10 to 3.14 (3.14 is not on the machines this is run on), 6.x on 3.12+.
PYTHONS = {"5.2.20": ["3.10", "3.11", "3.12", "3.13"], "6.0.10": ["3.12", "3.13"], "6.1.3": ["3.12", "3.13"]}
PAIRS = [(python, django) for django, pythons in PYTHONS.items() for python in pythons]


@functools.cache
def wheel() -> Path:
    """The package's wheel, built once for the whole matrix."""
    dist = HERE / ".nox" / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(HERE)], check=True)
    (built,) = dist.glob("django_sasl_memcached-*.whl")
    return built


def django_tests(session: nox.Session, version: str) -> Path:
    """The tests/ folder of Django ``version``'s source distribution (hash-checked), unpacked once."""
    folder = HERE / ".nox" / f"django-{version}"
    if (folder / "tests" / "runtests.py").is_file():
        return folder / "tests"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    pinned = folder / "requirements.txt"
    pinned.write_text(f"django=={version} --hash=sha256:{DJANGO[version]}\n")
    session.run(
        "python", "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:", "--require-hashes",
        "-r", str(pinned), "-d", str(folder),
    )  # fmt: skip
    (sdist,) = folder.glob("django-*.tar.gz")
    with tarfile.open(sdist) as archive:
        tests = [member for member in archive.getmembers() if member.name.split("/")[1:2] == ["tests"]]
        for member in tests:
            member.name = member.name.split("/", 1)[1]
        archive.extractall(folder, members=tests, filter="data")
    sdist.unlink()
    return folder / "tests"


@nox.session
@nox.parametrize("python,django", PAIRS, ids=[f"{python}-django{django}" for python, django in PAIRS])
def tests(session: nox.Session, django: str) -> None:
    session.install(str(wheel()), f"Django=={django}", "-r", str(HERE / "tests" / "requirements.txt"))
    env = {"DJANGO_TESTS_DIR": str(django_tests(session, django))}
    session.run("python", "-m", "pytest", "-p", "no:cacheprovider", *session.posargs, env=env)
