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
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

from sasl_memcached.testing import SaslMemcached

from bench import measures
from bench.report import summarise, write_outputs
from mc_tasklist.caching.keys import LAYERS, STRATEGIES
from testsupport.environment import production_env
from testsupport.gunicorn import REPO, GunicornInstance, collectstatic
from testsupport.http import Visitor
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
    database: str = ""


FLOOR = "floor: Django"
WARM = "all layers, warm"
# The tutorial's settings open a database connection per request (no pool), as its DATABASES does.
TUTORIAL = {"DJANGO_SETTINGS_MODULE": "bench.tutorial.settings", "DATABASE_POOL_SIZE": "0"}


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
    # Enough keep-alive connections that both workers get some: with a few, one gthread worker
    # can accept them all and the other idles, and a round measures that luck (docs/bench.md).
    parser.add_argument("--connections", type=int, default=64)
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
        tutorial_staleness = measures.tutorial_staleness(next(t for t in reads if t.env == TUTORIAL))
        context = measures.Context(base_env, postgres, args, log, started, start_target, run_wrk, warm_up)
        print("The tutorial's add ...", flush=True)
        tutorial_add = measures.tutorial_add(context, TUTORIAL)
        print("Cost growth ...", flush=True)
        growth = [measures.growth(context, size, duration) for size in growth_sizes]
        print("Stampede ...", flush=True)
        stampede = measures.stampede(context)
    finally:
        for thing in reversed(started):  # each gunicorn before its memcached
            thing.stop() if isinstance(thing, GunicornInstance) else thing.cleanup()
        postgres.stop()
        log.close()

    report = summarise(targets, growth, stampede, tutorial_staleness, tutorial_add, args, page_bytes, duration, rounds)
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


if __name__ == "__main__":
    sys.exit(main())
