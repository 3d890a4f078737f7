"""This package beside django-bmemcached 0.3.0 (the tutorial's) and Django's own PyMemcacheCache, in one run.

    pip install ./packages/sasl-memcached -r packages/sasl-memcached/compare/requirements.txt
    DJANGO_TESTS_DIR=<Django's sources>/tests python packages/sasl-memcached/compare/compare.py

Everything on loopback, against memcached servers this script starts: one with
SASL for the two SASL backends, one without for PyMemcacheCache (it has no SASL).
Prints a Markdown table and writes it to compare/results.md.
"""

import argparse
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import date
from pathlib import Path

import django
from django.conf import settings

settings.configure(SECRET_KEY="compare-" + uuid.uuid4().hex, USE_TZ=True)
django.setup()

from django.utils.module_loading import import_string  # noqa: E402

from sasl_memcached.testing import SaslMemcached, free_port, run_djangos_memcached_tests  # noqa: E402

HERE = Path(__file__).resolve().parent
BACKENDS = {
    "django-sasl-memcached 1.0.0": ("sasl_memcached.backend.BinaryMemcachedCache", True),
    "django-bmemcached 0.3.0": ("django_bmemcached.memcached.BMemcached", True),
    "Django PyMemcacheCache (no SASL)": ("django.core.cache.backends.memcached.PyMemcacheCache", False),
}
# A request that waits this long on a hung server is reported as waiting at least this long.
WAIT_LIMIT = 10.0
LARGE = "".join(f"<li class='task'><span>Task {n}: {uuid.uuid4().hex}</span></li>" for n in range(330))[:23_000]
SMALL = {"id": 7, "name": "a small value"}


class Planted:
    """Unpickled, this creates a file: what a value planted by another tenant or an attacker could do."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def make(backend: str, server, sasl: bool, location: str | None = None):
    options = {"username": server.username, "password": server.password} if sasl else {}
    return import_string(backend)(location or server.server, {"OPTIONS": options})


def contract(backend: str, server, django_tests: Path) -> str:
    result = run_djangos_memcached_tests(django_tests, server, backend=backend)
    return f"{result.passed} of {result.ran - result.skipped}"


def median_us(operation, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        operation()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


def latencies(cache, rounds: int) -> dict[str, float]:
    cache.set("large", LARGE)
    cache.set("small", SMALL)
    many = [f"many-{n}" for n in range(10)]
    cache.set_many(dict.fromkeys(many, SMALL))
    assert cache.get("large") == LARGE and cache.get("small") == SMALL
    return {
        "get 23 KB": median_us(lambda: cache.get("large"), rounds),
        "set 23 KB": median_us(lambda: cache.set("large", LARGE), rounds),
        "get small": median_us(lambda: cache.get("small"), rounds),
        "set small": median_us(lambda: cache.set("small", SMALL), rounds),
        "get_many 10 small": median_us(lambda: cache.get_many(many), rounds),
    }


def request_wait(cache) -> tuple[float, float]:
    """How long a request of five cache reads waits: the first request, and the next one in the same
    thread (python-binary-memcached keeps a connection, and this package its back-off, per thread)."""

    def five_reads():
        for n in range(5):
            try:
                cache.get(f"key-{n}")
            except Exception:  # a backend that raises: the request would get a 500
                return

    waits: list[float] = []

    def two_requests():
        for _ in range(2):
            started = time.perf_counter()
            five_reads()
            waits.append(time.perf_counter() - started)

    worker = threading.Thread(target=two_requests, daemon=True)
    worker.start()
    worker.join(WAIT_LIMIT)
    waits += [float("inf")] * (2 - len(waits))
    return waits[0], waits[1]


def runs_planted_code(cache, server, backend: str) -> bool:
    marker = Path(tempfile.mkdtemp()) / "planted-code-ran"
    key = cache.make_key("planted")
    if backend.endswith("PyMemcacheCache"):
        from pymemcache import serde
        from pymemcache.client.base import Client

        planter = Client(("127.0.0.1", server.port), serde=serde.pickle_serde)
        planter.set(key, Planted(str(marker)), noreply=False)  # stored before the backend reads it
        planter.close()
    else:
        with server.client() as planter:  # a plain python-binary-memcached client, as any tenant has
            planter.set(key, Planted(str(marker)))
    try:
        cache.get("planted")
    except Exception:  # what matters is whether the code ran
        pass
    return marker.exists()


def seconds(value: float) -> str:
    return f"over {WAIT_LIMIT:.0f} s (no timeout)" if value == float("inf") else f"{value:.3f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2000, help="operations per latency figure (median)")
    args = parser.parse_args()
    django_tests = Path(os.environ.get("DJANGO_TESTS_DIR", ""))
    if not (django_tests / "runtests.py").is_file():
        sys.exit("DJANGO_TESTS_DIR must name the tests/ folder of Django's source distribution")
    with_sasl, plain = SaslMemcached().start(), SaslMemcached(sasl=False).start()
    rows: dict[str, dict[str, str]] = {}
    try:
        for name, (backend, sasl) in BACKENDS.items():
            server = with_sasl if sasl else plain
            print(f"{name} ...", flush=True)
            row = {"Django's memcached contract tests passed": contract(backend, server, django_tests)}
            cache = make(backend, server, sasl)
            measured = latencies(cache, args.rounds)
            row |= {f"{what} (µs, median of {args.rounds})": f"{us:.0f}" for what, us in measured.items()}
            dead = make(backend, server, sasl, location=f"127.0.0.1:{free_port()}")
            first, second = request_wait(dead)
            row["5 reads, server dead: first request / the next"] = f"{seconds(first)} / {seconds(second)}"
            hung_server = SaslMemcached(sasl=sasl).start()
            hung = make(backend, hung_server, sasl)
            hung.get("warm-up")  # connected and logged in, then the server stops answering
            hung_server.pause()
            first, second = request_wait(hung)
            row["5 reads, server hung: first request / the next"] = f"{seconds(first)} / {seconds(second)}"
            hung_server.cleanup()
            row["a planted pickle runs code"] = "yes" if runs_planted_code(cache, server, backend) else "no"
            rows[name] = row
    finally:
        with_sasl.cleanup()
        plain.cleanup()
    names = list(rows)
    lines = ["| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    lines += [f"| {what} | " + " | ".join(rows[name][what] for name in names) + " |" for what in rows[names[0]]]
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    text = (
        f"Measured {date.today().isoformat()} by compare/compare.py ({machine}, Django {django.__version__};"
        " loopback):\n\n" + "\n".join(lines) + "\n"
    )
    (HERE / "results.md").write_text(text)
    print("\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
