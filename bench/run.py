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
import shutil
import sys
from pathlib import Path

from bench import measures
from bench.report import summarise, target_rows, write_outputs, write_rounds
from bench.targets import ALL_LAYERS, Target, run_wrk, start_target, warm_up
from mc_tasklist.caching.keys import STRATEGIES
from testsupport.environment import production_env
from testsupport.gunicorn import REPO, GunicornInstance, collectstatic
from testsupport.http import Visitor
from testsupport.postgres import OwnPostgres

RESULTS = REPO / "bench" / "results"
# What --baseline measures of the code before a change, beside the same targets of this code.
BASELINE_SUFFIX = " [before]"


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


def baseline_targets(targets: list[Target], baseline: Path) -> list[Target]:
    """The warm page and every strategy's mix, run by another checkout (its own .venv, its own database)."""
    chosen = [target for target in targets if target.name == WARM or (target.mixed and "tutorial" not in target.name)]
    return [
        Target(target.name + BASELINE_SUFFIX, dict(target.env), target.path, target.app, target.mixed, repo=baseline)
        for target in chosen
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
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another checkout of the app, with its .venv: its warm page and mixes are measured in the same rounds",
    )
    parser.add_argument("--only-rounds", action="store_true", help="the rounds alone: no growth, add or stampede")
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
        before = baseline_targets(reads + mixed, args.baseline.resolve()) if args.baseline else []
        if before:
            collectstatic(base_env, args.baseline.resolve())
            baseline_env = {
                **base_env,
                "DATABASE_URL": postgres.app_database("bench_before", base_env, args.baseline.resolve()),
            }
            postgres.replace_tasks("bench_before", args.tasks)
        for target in reads + mixed:
            start_target(target, base_env, args, log, started)
        for target in before:
            start_target(target, baseline_env, args, log, started)
        mixed += [target for target in before if target.mixed]
        reads += [target for target in before if not target.mixed]
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

        # Written now: the measures below take minutes more, and the rounds are what a side-by-side run is for.
        write_rounds(target_rows(targets), {**vars(args), "baseline": str(args.baseline)}, RESULTS)
        if args.only_rounds:
            return 0
        print("The tutorial's staleness across workers ...", flush=True)
        tutorial_staleness = measures.tutorial_staleness(next(t for t in reads if t.env == TUTORIAL))
        context = measures.Context(base_env, postgres, args, log, started)
        print("The tutorial's add ...", flush=True)
        tutorial_add = measures.tutorial_add(context, TUTORIAL)
        print("Cost growth ...", flush=True)
        growth = [measures.growth(context, size, duration) for size in growth_sizes]
        print("Stampede ...", flush=True)
        stampede = measures.stampede(context)
        print("Write throughput ...", flush=True)
        writes = measures.write_throughput(context, duration)
    finally:
        for thing in reversed(started):  # each gunicorn before its memcached
            thing.stop() if isinstance(thing, GunicornInstance) else thing.cleanup()
        postgres.stop()
        log.close()

    report = summarise(targets, growth, stampede, tutorial_staleness, tutorial_add, args, page_bytes, duration, rounds)
    report["write_throughput"] = writes
    write_outputs(report, RESULTS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
