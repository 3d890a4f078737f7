"""What bench.run and bench.measures share: a target (the app under one setup, on its own memcached),
starting it, warming it, and one round of wrk against it with the CPU its processes spent."""

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from sasl_memcached.testing import SaslMemcached

from mc_tasklist.caching.keys import LAYERS
from testsupport.gunicorn import REPO, GunicornInstance
from testsupport.http import Visitor

ALL_LAYERS = ",".join(LAYERS)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Target:
    name: str
    env: dict = field(default_factory=dict)
    path: str = "/"
    app: str = "django_tasklist.wsgi"
    mixed: bool = False
    script: str = "mixed.lua"  # what wrk sends when ``mixed`` (bench/*.lua)
    # Another checkout of the app, with its own .venv: the code before a change, measured in the same run.
    repo: Path = REPO
    instance: GunicornInstance | None = None
    memcached: SaslMemcached | None = None
    rounds: list = field(default_factory=list)
    database: str = ""


def start_target(target: Target, base_env: dict, args, log, started: list) -> Target:
    target.memcached = SaslMemcached(memory_mb=64).start()
    started.append(target.memcached)
    env = {"TASKLIST_CACHE_LAYERS": ALL_LAYERS, **base_env, **target.memcached.env(), **target.env}
    target.instance = GunicornInstance(env, workers=args.workers, app=target.app, log=log, repo=target.repo).start()
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
        command += ["-s", str(REPO / "bench" / target.script)]
    command.append(f"http://127.0.0.1:{target.instance.port}{target.path}")
    cpu_before = cpu_seconds(target.instance)
    output = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, **target.env}, check=True
    ).stdout
    cpu = cpu_seconds(target.instance) - cpu_before
    latency = {percent: float(value) * UNIT[unit] for percent, value, unit in WRK_LATENCY.findall(output)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    return {
        "requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50_ms": latency["50"],
        "p99_ms": latency["99"],
        "errors": int(errors.group(1)) if errors else 0,
        # What a deployment pays: moves far less than req/s when the machine is busy.
        "cpu_us_per_request": round(cpu / requests * 1_000_000) if requests else None,
    }


def cpu_seconds(instance: GunicornInstance) -> float:
    """User and system time of the gunicorn master and its workers so far (/proc/<pid>/stat)."""
    total = 0
    for pid in [instance.process.pid, *instance.worker_pids()]:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue  # a worker that just exited; its time is lost to the round
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / CLOCK_TICKS
