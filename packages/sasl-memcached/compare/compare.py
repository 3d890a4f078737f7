"""This package beside django-bmemcached (the tutorial's), Django's PyLibMCCache and Django's PyMemcacheCache.

    sudo apt-get install libmemcached-dev memcached sasl2-bin   # pylibmc is built against Debian's libmemcached
    pip install ./packages/sasl-memcached -r packages/sasl-memcached/compare/requirements.txt \\
        --no-binary pylibmc   # the pylibmc wheel bundles a libsasl2 that finds no SASL mechanisms
    DJANGO_TESTS_DIR=<Django's sources>/tests python packages/sasl-memcached/compare/compare.py

Everything on loopback, against memcached servers this script starts: one with
SASL for the SASL backends, one without for PyMemcacheCache (it has no SASL).

How the speed is measured, so that a figure does not hang on luck:

* client CPU per call (user + system time of this process, over a batch of
  calls) beside wall time per call: CPU is what a deployment pays, and swings
  less than wall time on a busy machine;
* on a machine with two cores or more, this process runs on one core and
  every memcached thread on another, as a server on its own machine would:
  otherwise a call's cost depends on whether the server's thread happened to
  share the client's core;
* each trial makes every backend anew (a new connection, and so another of
  memcached's worker threads), in an order that rotates between trials; a
  figure is the median over the trials, with their minimum and maximum;
* ``--runs`` repeats all of it with fresh servers, and the ratios to
  django-bmemcached are printed for each run.

Prints Markdown tables and writes them to compare/results.md.
"""

import argparse
import contextlib
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import date
from importlib.metadata import version
from pathlib import Path

import django
from django.conf import settings

settings.configure(SECRET_KEY="compare-" + uuid.uuid4().hex, USE_TZ=True)
django.setup()

from django.utils.module_loading import import_string  # noqa: E402

from sasl_memcached.testing import SaslMemcached, free_port, run_djangos_memcached_tests  # noqa: E402

HERE = Path(__file__).resolve().parent
OURS = f"django-sasl-memcached {version('django-sasl-memcached')}"
REFERENCE = f"django-bmemcached {version('django-bmemcached')}"


class Backend:
    def __init__(self, path: str, *, sasl: bool, **options):
        self.path, self.sasl, self.options = path, sasl, options

    def make(self, server: SaslMemcached, location: str | None = None, prefix: str = ""):
        credentials = {"username": server.username, "password": server.password} if self.sasl else {}
        return import_string(self.path)(
            location or server.server, {"KEY_PREFIX": prefix, "OPTIONS": credentials | self.options}
        )


BACKENDS = {
    OURS: Backend("sasl_memcached.backend.BinaryMemcachedCache", sasl=True),
    REFERENCE: Backend("django_bmemcached.memcached.BMemcached", sasl=True),
    f"Django PyLibMCCache (pylibmc {version('pylibmc')}, SASL)": Backend(
        "django.core.cache.backends.memcached.PyLibMCCache", sasl=True, binary=True
    ),
    "Django PyMemcacheCache (no SASL)": Backend("django.core.cache.backends.memcached.PyMemcacheCache", sasl=False),
}
# A request that waits this long on a hung server is reported as waiting at least this long.
WAIT_LIMIT = 10.0
LARGE = "".join(f"<li class='task'><span>Task {n}: {uuid.uuid4().hex}</span></li>" for n in range(330))[:23_000]
SMALL = {"id": 7, "name": "a small value"}
MANY = [f"many-{n}" for n in range(10)]
OPERATIONS = {
    "get 23 KB": lambda cache: cache.get("large"),
    "set 23 KB": lambda cache: cache.set("large", LARGE),
    "get small": lambda cache: cache.get("small"),
    "set small": lambda cache: cache.set("small", SMALL),
    "get_many 10 small": lambda cache: cache.get_many(MANY),
}


class Planted:
    """Unpickled, this creates a file: what a value planted by another tenant or an attacker could do."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def contract(backend: Backend, server, django_tests: Path) -> str:
    result = run_djangos_memcached_tests(django_tests, server, backend=backend.path)
    return f"{result.passed} of {result.ran - result.skipped}"


def pin(server: SaslMemcached) -> bool:
    """This process on the first core, every thread of the server on the second."""
    if (os.cpu_count() or 1) < 2:
        return False
    os.sched_setaffinity(0, {0})
    for thread in os.listdir(f"/proc/{server.process.pid}/task"):
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(int(thread), {1})
    return True


def fill(cache) -> None:
    cache.set("large", LARGE)
    cache.set("small", SMALL)
    cache.set_many(dict.fromkeys(MANY, SMALL))
    assert cache.get("large") == LARGE and cache.get("small") == SMALL and len(cache.get_many(MANY)) == 10


class Figures:
    """Per operation, each trial's CPU and wall microseconds per call."""

    def __init__(self):
        self.cpu: dict[str, list[float]] = {name: [] for name in OPERATIONS}
        self.wall: dict[str, list[float]] = {name: [] for name in OPERATIONS}

    def measure(self, cache, calls: int) -> None:
        for name, operation in OPERATIONS.items():
            operation(cache)  # the first call of a kind may set something up
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(calls):
                operation(cache)
            self.cpu[name].append((time.process_time() - cpu) / calls * 1e6)
            self.wall[name].append((time.perf_counter() - wall) / calls * 1e6)

    def add(self, other: "Figures") -> None:
        for name in OPERATIONS:
            self.cpu[name] += other.cpu[name]
            self.wall[name] += other.wall[name]


def speed_run(servers: dict[bool, SaslMemcached], trials: int, calls: int) -> dict[str, Figures]:
    figures = {name: Figures() for name in BACKENDS}
    names = list(BACKENDS)
    for trial in range(trials):
        for name in names[trial % len(names) :] + names[: trial % len(names)]:
            backend = BACKENDS[name]
            cache = backend.make(servers[backend.sasl], prefix=f"trial-{trial}")
            fill(cache)
            figures[name].measure(cache, calls)
            with contextlib.suppress(Exception):
                cache._cache.disconnect_all()
    return figures


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


def runs_planted_code(cache, server, backend: Backend) -> bool:
    marker = Path(tempfile.mkdtemp()) / "planted-code-ran"
    key = cache.make_key("planted")
    if not backend.sasl:
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
    return f"over {WAIT_LIMIT:.0f} s" if value == float("inf") else f"{value:.3f} s"


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.0f} ({min(values):.0f} to {max(values):.0f})"


def faults_and_safety(backend: Backend, server: SaslMemcached) -> dict[str, str]:
    row = {}
    dead = backend.make(server, location=f"127.0.0.1:{free_port()}")
    first, second = request_wait(dead)
    row["5 reads, server dead: first request / the next"] = f"{seconds(first)} / {seconds(second)}"
    hung_server = SaslMemcached(sasl=backend.sasl).start()
    try:
        hung = backend.make(hung_server)
        hung.get("warm-up")  # connected and logged in, then the server stops answering
        hung_server.pause()
        first, second = request_wait(hung)
        row["5 reads, server hung: first request / the next"] = f"{seconds(first)} / {seconds(second)}"
    finally:
        hung_server.cleanup()
    planted = runs_planted_code(backend.make(server), server, backend)
    row["a planted pickle runs code"] = "yes" if planted else "no"
    return row


def table(rows: dict[str, dict[str, str]]) -> str:
    names = list(rows)
    lines = ["| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    lines += [f"| {what} | " + " | ".join(rows[name][what] for name in names) + " |" for what in rows[names[0]]]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs of the speed trials, each on fresh servers")
    parser.add_argument("--trials", type=int, default=15, help="trials a run: every backend anew, order rotated")
    parser.add_argument("--calls", type=int, default=300, help="calls of each operation a trial")
    args = parser.parse_args()
    django_tests = Path(os.environ.get("DJANGO_TESTS_DIR", ""))
    if not (django_tests / "runtests.py").is_file():
        sys.exit("DJANGO_TESTS_DIR must name the tests/ folder of Django's source distribution")

    rows: dict[str, dict[str, str]] = {name: {} for name in BACKENDS}
    servers = {True: SaslMemcached().start(), False: SaslMemcached(sasl=False).start()}
    try:
        for name, backend in BACKENDS.items():
            print(f"{name}: Django's contract tests ...", flush=True)
            rows[name]["Django's memcached contract tests passed"] = contract(
                backend, servers[backend.sasl], django_tests
            )
    finally:
        for server in servers.values():
            server.cleanup()

    total = {name: Figures() for name in BACKENDS}
    ratios: list[dict[str, float]] = []
    pinned = False
    for run in range(args.runs):
        print(f"speed, run {run + 1} of {args.runs} ...", flush=True)
        servers = {True: SaslMemcached().start(), False: SaslMemcached(sasl=False).start()}
        try:
            pinned = all([pin(server) for server in servers.values()])
            figures = speed_run(servers, args.trials, args.calls)
        finally:
            for server in servers.values():
                server.cleanup()
        for name in BACKENDS:
            total[name].add(figures[name])
        ratios.append(
            {
                what: statistics.median(figures[OURS].cpu[what]) / statistics.median(figures[REFERENCE].cpu[what])
                for what in OPERATIONS
            }
        )
    os.sched_setaffinity(0, range(os.cpu_count() or 1))

    for name in BACKENDS:
        for what in OPERATIONS:
            rows[name][f"{what}: CPU µs a call"] = spread(total[name].cpu[what])
            rows[name][f"{what}: wall µs a call"] = spread(total[name].wall[what])

    servers = {True: SaslMemcached().start(), False: SaslMemcached(sasl=False).start()}
    try:
        for name, backend in BACKENDS.items():
            print(f"{name}: faults ...", flush=True)
            rows[name] |= faults_and_safety(backend, servers[backend.sasl])
    finally:
        for server in servers.values():
            server.cleanup()

    ratio_lines = [f"| {what} | " + " | ".join(f"{run[what]:.2f}" for run in ratios) + " |" for what in OPERATIONS]
    runs_header = "| CPU a call, ÷ " + REFERENCE + " | " + " | ".join(f"run {n + 1}" for n in range(len(ratios)))
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    placement = "client and servers on cores of their own" if pinned else "client and servers sharing the cores"
    text = (
        f"Measured {date.today().isoformat()} by compare/compare.py ({machine}, Django {django.__version__};"
        f" loopback, {placement}). Speed: median of {args.runs} runs of {args.trials} trials of {args.calls} calls"
        " each (lowest to highest trial), every backend made anew each trial.\n\n"
        + table(rows)
        + f"\n\n{OURS}'s CPU a call over {REFERENCE}'s, each run (the median of its trials):\n\n"
        + runs_header
        + " |\n|---|"
        + "---|" * len(ratios)
        + "\n"
        + "\n".join(ratio_lines)
        + "\n"
    )
    (HERE / "results.md").write_text(text)
    print("\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
