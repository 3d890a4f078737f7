"""make bench: what each caching layer and strategy buys, beside the framework's floor.

Starts its own PostgreSQL cluster and one SASL memcached per target, runs the
app under gunicorn in production mode, and drives load with wrk from a separate
process on loopback. wrk (C, event loop) saturates two gunicorn workers from
one thread; a Python load generator would need most of a core to do the same
and would measure itself. Rounds alternate between targets and the medians are
reported, because a two-core machine is noisy.

    python -m bench.run [--quick] [--workers 2] [--worker-class gthread] [--threads 16]
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from threading import Barrier

from bench.report import summarise, write_outputs
from mc_tasklist.caching.keys import LAYERS, STRATEGIES
from testsupport.environment import production_env
from testsupport.gunicorn import REPO, GunicornInstance, collectstatic
from testsupport.http import Visitor
from testsupport.memcached import SaslMemcached
from testsupport.postgres import OwnPostgres

RESULTS = REPO / "bench" / "results"
ALL_LAYERS = ",".join(LAYERS)


@dataclass
class Target:
    name: str
    env: dict = field(default_factory=dict)
    path: str = "/"
    app: str = "django_tasklist.wsgi"
    mixed: bool = False
    instance: GunicornInstance | None = None
    memcached: SaslMemcached | None = None
    rounds: list = field(default_factory=list)


FLOOR = "floor: Django"
WARM = "all layers, warm"
TUTORIAL = {"DJANGO_SETTINGS_MODULE": "bench.tutorial.settings"}


def read_targets() -> list[Target]:
    """GET / under each caching setup, the floors, and the tutorial's own approach."""
    return [
        Target("floor: bare WSGI", app="bench.bare_wsgi:application"),
        # A constant response of the page's size through the middleware startproject writes.
        Target(FLOOR, {"DJANGO_SETTINGS_MODULE": "bench.floor_settings"}, path="/bench/floor"),
        Target("floor: the app's middleware", path="/bench/floor"),
        Target("no caching", {"TASKLIST_CACHE_LAYERS": ""}),
        Target("query layer only", {"TASKLIST_CACHE_LAYERS": "query"}),
        Target("fragment layer only", {"TASKLIST_CACHE_LAYERS": "fragment"}),
        Target("page layer only", {"TASKLIST_CACHE_LAYERS": "page"}),
        Target(WARM, {"TASKLIST_CACHE_LAYERS": ALL_LAYERS}),
        Target("tutorial: cache_page, warm", TUTORIAL),
    ]


def mixed_targets() -> list[Target]:
    """95 % reads, 5 % writes (each followed by its redirect), all layers on, under each strategy."""
    return [
        *(
            Target(f"{strategy}, 95/5 read/write", {"TASKLIST_INVALIDATION": strategy}, mixed=True)
            for strategy in STRATEGIES
        ),
        Target("tutorial: cache_page, 95/5", TUTORIAL, mixed=True),
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds: under 2 minutes")
    parser.add_argument("--workers", type=int, default=2)
    # As gunicorn.conf.py runs production.
    parser.add_argument("--worker-class", default="gthread")
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--tasks", type=int, default=200, help="tasks in the list (50 on a page)")
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args(argv)
    duration, rounds = (2, 2) if args.quick else (5, 5)
    growth_sizes = [100, 10_000] if args.quick else [100, 10_000, 100_000, 1_000_000]
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")

    RESULTS.mkdir(parents=True, exist_ok=True)
    log = open(RESULTS / "servers.log", "w")
    postgres = OwnPostgres().start()
    started: list = []
    try:
        base_env = production_env(
            database_url="",
            DJANGO_SETTINGS_MODULE="bench.settings",
            GUNICORN_WORKER_CLASS=args.worker_class,
            GUNICORN_THREADS=str(args.threads),
        )
        collectstatic(base_env)
        base_env["DATABASE_URL"] = postgres.app_database("bench", base_env)
        postgres.replace_tasks("bench", args.tasks)

        print(f"Measuring page size with {args.tasks} tasks ...", flush=True)
        probe = start_target(Target("probe", {"TASKLIST_CACHE_LAYERS": ""}), base_env, args, log, started)
        page_bytes = len(Visitor(probe.instance.port).get("/").text.encode())
        base_env["BENCH_FLOOR_BYTES"] = str(page_bytes)

        reads, mixed = read_targets(), mixed_targets()
        for target in reads + mixed:
            start_target(target, base_env, args, log, started)
        for target in mixed:
            visitor = Visitor(target.instance.port)
            page = visitor.get("/")
            # The tutorial's pages carry no token (its CSRF protection is off): any will do.
            target.env["BENCH_CSRF_TOKEN"] = (page.csrf_tokens() or ["none"])[0]
            target.env["BENCH_CSRF_COOKIE_NAME"] = "__Host-csrftoken"
            target.env["BENCH_CSRF_COOKIE"] = visitor.cookies.get("__Host-csrftoken", "none")

        targets = reads + mixed
        for round_number in range(rounds):
            print(f"Round {round_number + 1} of {rounds} ...", flush=True)
            order = targets[round_number % len(targets) :] + targets[: round_number % len(targets)]
            for target in order:
                warm_up(target)
                target.rounds.append(run_wrk(target, duration, args.connections))

        print("The tutorial's staleness across workers ...", flush=True)
        tutorial_staleness = measure_tutorial_staleness(next(t for t in reads if t.env == TUTORIAL))
        print("Cost growth ...", flush=True)
        growth = [measure_growth(size, base_env, postgres, args, log, started, duration) for size in growth_sizes]
        print("Stampede ...", flush=True)
        stampede = measure_stampede(base_env, postgres, args, log, started)
    finally:
        for thing in reversed(started):  # each gunicorn before its memcached
            thing.stop() if isinstance(thing, GunicornInstance) else thing.cleanup()
        postgres.stop()
        log.close()

    report = summarise(targets, growth, stampede, tutorial_staleness, args, page_bytes, duration, rounds)
    write_outputs(report, RESULTS)
    return 0


def start_target(target: Target, base_env: dict, args, log, started: list) -> Target:
    target.memcached = SaslMemcached(memory_mb=64).start()
    started.append(target.memcached)
    env = {"TASKLIST_CACHE_LAYERS": ALL_LAYERS, **base_env, **target.memcached.env(), **target.env}
    target.instance = GunicornInstance(env, workers=args.workers, app=target.app, log=log).start()
    started.append(target.instance)
    return target


def warm_up(target: Target) -> None:
    for _ in range(3):
        Visitor(target.instance.port).get(target.path)


WRK_LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)
UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def run_wrk(target: Target, duration: int, connections: int) -> dict:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency"]
    if target.mixed:
        command += ["-s", str(REPO / "bench" / "mixed.lua")]
    command.append(f"http://127.0.0.1:{target.instance.port}{target.path}")
    output = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, **target.env}, check=True
    ).stdout
    latency = {percent: float(value) * UNIT[unit] for percent, value, unit in WRK_LATENCY.findall(output)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50_ms": latency["50"],
        "p99_ms": latency["99"],
        "errors": int(errors.group(1)) if errors else 0,
    }


def measure_growth(size, base_env, postgres, args, log, started, duration) -> dict:
    """Warm: the page cache serving; cold: the first request after the cache was emptied, for the
    first page and for the page in the middle of the list; add: one task added, until its redirect."""
    database = f"growth_{size}"
    url = postgres.app_database(database, base_env)
    postgres.replace_tasks(database, size)
    target = start_target(Target(f"{size} tasks", {"DATABASE_URL": url}), base_env, args, log, started)
    warm_up(target)
    warm = run_wrk(target, duration, args.connections)
    samples = 10 if args.quick else 20
    middle = max(1, size // 50 // 2)

    def cold(path: str) -> list[float]:
        times = []
        for _ in range(samples):
            target.memcached.flush()
            start = time.perf_counter()
            assert Visitor(target.instance.port).get(path).status == 200
            times.append((time.perf_counter() - start) * 1000)
        return times

    first, deep = cold("/"), cold(f"/?page={middle}")
    writer = Visitor(target.instance.port)
    adds = []
    for n in range(samples):
        writer.get("/")  # the first page cached again, as visitors keep it
        start = time.perf_counter()
        assert writer.post("/add", {"name": f"growth add {n}"}).status == 302
        adds.append((time.perf_counter() - start) * 1000)
    return {
        "tasks": size,
        "warm": warm,
        "cold_p50_ms": statistics.median(first),
        "cold_max_ms": max(first),
        "deep_page": middle,
        "cold_deep_p50_ms": statistics.median(deep),
        "add_p50_ms": statistics.median(adds),
    }


def measure_tutorial_staleness(target: Target, probes: int = 4, reads: int = 10, seconds: float = 5.0) -> dict:
    """The tutorial's per-process key: adds through whichever worker takes them, reads through all.

    Each probe adds one task, then reads the list ``reads`` times over ``seconds``.
    """
    import uuid

    stale, never_seen = 0, 0
    for _ in range(probes):
        name = f"staleness probe {uuid.uuid4().hex[:8]}"
        for _ in range(10):
            Visitor(target.instance.port).get("/")  # both workers serve (one of them caches) the page
        assert Visitor(target.instance.port).request("POST", "/add", {"name": name}).status == 302
        acknowledged, shown = time.monotonic(), []
        for n in range(reads):
            time.sleep(max(0.0, acknowledged + n * seconds / reads - time.monotonic()))
            shown.append(name in Visitor(target.instance.port).get("/").text)
        stale += shown.count(False)
        never_seen += not any(shown)
    return {
        "reads": probes * reads,
        "stale": stale,
        "probes": probes,
        "never_seen": never_seen,
        "over_seconds": seconds,
    }


def measure_stampede(base_env, postgres, args, log, started) -> dict:
    """32 concurrent requests on a cold cache, the query taking 1 s: how often does it run?"""
    burst = 32
    # A database of its own: the app's counters live in it, and other targets' would add up.
    url = postgres.app_database("stampede", base_env)
    postgres.replace_tasks("stampede", 200)
    target = Target(
        "stampede",
        {
            "DATABASE_URL": url,
            "GUNICORN_WORKER_CLASS": "gthread",
            "GUNICORN_THREADS": "16",
            "TASKLIST_QUERY_DELAY": "1",
            "TASKLIST_STATS_FLUSH_SECONDS": "0.2",
        },
    )
    start_target(target, base_env, args, log, started)
    env = {**os.environ, **base_env, **target.memcached.env(), **target.env}
    target.memcached.flush()
    barrier = Barrier(burst)

    def one_request(_):
        barrier.wait()
        start = time.perf_counter()
        status = Visitor(target.instance.port, timeout=30).get("/").status
        return status, time.perf_counter() - start

    with ThreadPoolExecutor(burst) as pool:
        results = list(pool.map(one_request, range(burst)))
    time.sleep(1)  # the workers flush their counters
    counters = json.loads(
        subprocess.run(
            [sys.executable, "manage.py", "cachestats", "--json"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )["app"]
    return {
        "requests": burst,
        "ok": sum(status == 200 for status, _ in results),
        "task_list_queries": counters["task_list_query"],
        "stampede_waits": counters["stampede_wait"],
        "slowest_s": round(max(seconds for _, seconds in results), 2),
    }


if __name__ == "__main__":
    sys.exit(main())
