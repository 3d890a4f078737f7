"""make bench's measurements beside the throughput rounds: cost growth, the tutorial's add and
staleness, the stampede. Each starts what it measures through the run's ``Context``."""

import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from threading import Barrier

from bench.targets import Target, run_wrk, start_target, warm_up
from testsupport.gunicorn import REPO
from testsupport.http import Visitor
from testsupport.postgres import OwnPostgres


@dataclass
class Context:
    base_env: dict
    postgres: OwnPostgres
    args: object
    log: object
    started: list

    def target(self, name: str, env: dict, tasks: int) -> Target:
        """A target of its own on a database of its own holding ``tasks`` tasks."""
        database = name.replace(" ", "_").replace(":", "")
        url = self.postgres.app_database(database, self.base_env)
        self.postgres.replace_tasks(database, tasks)
        target = Target(name, {**env, "DATABASE_URL": url})
        start_target(target, self.base_env, self.args, self.log, self.started)
        target.database = database
        return target


def samples(context: Context) -> int:
    return 10 if context.args.quick else 20


def spread(times: list[float]) -> dict:
    return {"p50_ms": statistics.median(times), "min_ms": min(times), "max_ms": max(times)}


def adds(target, count: int) -> list[float]:
    """Each add's time, the POST until its redirect, with the first page cached again before each."""
    writer = Visitor(target.instance.port)
    times = []
    for n in range(count):
        page = writer.get("/")  # as visitors keep it cached
        form = {"name": f"timed add {n}"}
        start = time.perf_counter()
        # The tutorial's form has no CSRF token: its protection is off.
        answer = writer.post("/add", form) if page.csrf_tokens() else writer.request("POST", "/add", form)
        assert answer.status == 302
        times.append((time.perf_counter() - start) * 1000)
    return times


def growth(context: Context, size: int, duration: int) -> dict:
    """Warm: the page cache serving; cold: the first request after the cache was emptied, for the
    first page, the page in the middle of the list and the oldest page; add: until its redirect."""
    target = context.target(f"growth {size}", {}, size)
    warm_up(target)
    warm = run_wrk(target, duration, context.args.connections)
    ids = context.postgres.query(
        target.database, "SELECT id FROM mc_tasklist_task ORDER BY id DESC OFFSET %s LIMIT 1", (size // 2,)
    )
    middle = f"/?before={ids[0][0]}"

    def cold(path: str) -> list[float]:
        times = []
        for _ in range(samples(context)):
            # A new version (a rename to the same name moves both counters), then nothing cached: the workers'
            # copies name the old version, memcached holds nothing.
            context.postgres.execute(target.database, "UPDATE mc_tasklist_task SET name = name WHERE id = %s", ids[0])
            target.memcached.flush()
            start = time.perf_counter()
            assert Visitor(target.instance.port).get(path).status == 200, path
            times.append((time.perf_counter() - start) * 1000)
        return times

    first, deep, oldest = cold("/"), cold(middle), cold("/?after=0")
    added = adds(target, samples(context))
    return {
        "tasks": size,
        "warm": warm,
        "cold_p50_ms": statistics.median(first),
        "cold_max_ms": max(first),
        "deep_page": middle,
        "cold_deep_p50_ms": statistics.median(deep),
        "cold_oldest_p50_ms": statistics.median(oldest),
        "add_p50_ms": statistics.median(added),
        "add": spread(added),
    }


def tutorial_add(context: Context, tutorial_env: dict) -> dict:
    """The tutorial's add ("Delete cached value": an INSERT, then one cache.delete) at 100 tasks."""
    target = context.target("tutorial add", tutorial_env, 100)
    warm_up(target)
    return {"tasks": 100, **spread(adds(target, samples(context)))}


def tutorial_staleness(target, probes: int = 4, reads: int = 10, seconds: float = 5.0) -> dict:
    """The tutorial's per-process key: adds through whichever worker takes them, reads through all.

    Each probe adds one task, then reads the list ``reads`` times over ``seconds``.
    """
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


def stampede(context: Context) -> dict:
    """32 concurrent requests on a cold cache, the query taking 1 s: how often does it run?"""
    burst = 32
    # A database of its own: the app's counters live in it, and other targets' would add up.
    target = context.target(
        "stampede",
        {
            "GUNICORN_WORKER_CLASS": "gthread",
            "GUNICORN_THREADS": "16",
            "TASKLIST_QUERY_DELAY": "1",
            "TASKLIST_STATS_FLUSH_SECONDS": "0.2",
        },
        200,
    )
    env = {**os.environ, **context.base_env, **target.memcached.env(), **target.env}
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


def write_throughput(context: Context, duration: int, connections: int = 64) -> dict:
    """Adds alone, from ``connections`` writers at once, each add answered with its redirect: the ceiling
    the one TaskCount row sets (each write holds its lock until it commits)."""
    target = context.target("write throughput", {}, 1000)
    target.mixed, target.script = True, "adds.lua"
    visitor = Visitor(target.instance.port)
    page = visitor.get("/")
    target.env |= {
        "BENCH_CSRF_TOKEN": page.csrf_tokens()[0],
        "BENCH_CSRF_COOKIE_NAME": "__Host-csrftoken",
        "BENCH_CSRF_COOKIE": visitor.cookies["__Host-csrftoken"],
    }
    rounds = [run_wrk(target, duration, connections) for _ in range(3)]
    adds = [r["requests_per_second"] for r in rounds]
    return {
        "writers": connections,
        "adds_per_second": statistics.median(adds),
        "min": min(adds),
        "max": max(adds),
        "p50_ms": statistics.median(r["p50_ms"] for r in rounds),
        "p99_ms": statistics.median(r["p99_ms"] for r in rounds),
        "errors": sum(r["errors"] for r in rounds),
        "cpu_us_per_add": statistics.median(r["cpu_us_per_request"] for r in rounds),
    }
