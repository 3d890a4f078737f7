"""make chaos: break the cache and the database under load, and prove what visitors saw.

Two gunicorn instances (two workers each) share one PostgreSQL and a SASL
memcached, as on App Platform. A mixed read/write load (chaos/load.py) runs
against both while each scenario breaks something, then the run checks that
no acknowledged write was lost, that every instance agrees with the database,
and how stale, slow or failed any answer was. Every scenario starts fresh
servers; PostgreSQL is a cluster of the run's own, so restarting it disturbs
nothing else on the machine.

    python -m chaos.run [--quick] [--strategy delete]
"""

import argparse
import json
import re
import secrets
import sys
import time
from pathlib import Path

from sasl_memcached.testing import SaslMemcached

from chaos.judge import MEMCACHED_CLOCK_TICK, STALENESS_BOUND, Result, analyse
from chaos.load import Load
from chaos.report import write_report
from chaos.scenarios import DATABASE, FULL, QUICK, SCENARIOS, Scenario, Servers, Timings
from mc_tasklist.caching.keys import STRATEGIES
from testsupport.environment import production_env
from testsupport.gunicorn import REPO, GunicornInstance, collectstatic
from testsupport.http import Visitor
from testsupport.pages import tasks_shown
from testsupport.postgres import OwnPostgres
from testsupport.tcp_proxy import TcpProxy

RESULTS = REPO / "chaos" / "results"
# The whole list fits on one page, so every read shows every task and can be
# checked against every acknowledged write.
PAGE_SIZE = 1000


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter phases: about 2 minutes")
    parser.add_argument("--strategy", default="update", choices=STRATEGIES)
    parser.add_argument("--visitors", type=int, default=4)
    parser.add_argument("--seed", type=int, help="repeat an earlier run's choices (its report names its seed)")
    parser.add_argument("--only", help="run only the scenarios whose name contains this (e.g. blips)")
    parser.add_argument("--repeat", type=int, default=1, help="run them this many times: a rare miss shows up")
    args = parser.parse_args(argv)
    timings = QUICK if args.quick else FULL
    chosen = [scenario for scenario in SCENARIOS if args.only is None or args.only in scenario.name]
    if not chosen:
        parser.error(f"no scenario's name contains {args.only!r}")
    report = "quick" if args.quick else "full"
    if args.strategy != "update":
        report += f"_{args.strategy}"  # beside the default's report, not over it (with_suffix would eat ".delete")
    missed_runs = 0
    for attempt in range(args.repeat):
        results = run(
            timings,
            strategy=args.strategy,
            visitors=args.visitors,
            seed=args.seed,
            scenarios=chosen,
            report=report if args.repeat == 1 else f"{report}-{attempt + 1}",
        )
        missed_runs += any(result.missed for result in results)
    if args.repeat > 1:
        print(f"{args.repeat} runs: {missed_runs} missed a target")
    return 1 if missed_runs else 0


def run(
    timings: Timings,
    *,
    strategy: str = "update",
    visitors: int = 4,
    output: Path = RESULTS,
    report: str = "report",
    scenarios: list[Scenario] = SCENARIOS,
    seed: int | None = None,
) -> list[Result]:
    """Run the scenarios; the load's choices follow ``seed`` (random when None, and reported)."""
    seed = secrets.randbits(32) if seed is None else seed
    output.mkdir(parents=True, exist_ok=True)
    postgres = OwnPostgres().start()
    try:
        env = production_env(
            database_url="",
            TASKLIST_INVALIDATION=strategy,
            TASKLIST_CACHE_TTL=str(timings.ttl),
            TASKLIST_PAGE_SIZE=str(PAGE_SIZE),
        )
        collectstatic(env)
        env["DATABASE_URL"] = postgres.app_database(DATABASE, env)
        results = []
        with open(output / "servers.log", "w") as log:
            for number, scenario in enumerate(scenarios):
                print(f"{scenario.name} ...", flush=True)
                load = Load([], visitors=visitors, seed=seed + number)
                results.append(run_scenario(scenario, Servers(postgres), env, timings, load, log))
    finally:
        postgres.stop()
    write_report(results, timings, strategy, visitors, seed, output / report)
    return results


def run_scenario(scenario: Scenario, servers: Servers, env: dict, timings: Timings, load: Load, log) -> Result:
    postgres = servers.postgres
    postgres.replace_tasks(DATABASE, 10, prefix="seed ")
    servers.memcached = [
        SaslMemcached(memory_mb=scenario.memcached_mb).start() for _ in range(scenario.memcached_nodes)
    ]
    if scenario.memcached_nodes > 1:
        servers.proxies = [TcpProxy(server.port).start() for server in servers.memcached]
    if scenario.first_instance_proxied:
        servers.first_instance_proxy = TcpProxy(servers.memcached[0].port).start()
    env = {**env, **servers.memcached[0].env()}
    log_start = log.tell()
    log.write(f"===== {scenario.name}\n")
    log.flush()
    instances = [
        GunicornInstance({**env, "MEMCACHIER_SERVERS": servers.cache_locations(number)}, workers=2, log=log)
        for number in range(2)
    ]
    servers.instances = instances
    for instance in instances:
        instance.start(wait=False)
    try:
        for instance in instances:
            instance.wait_ready()
        load.ports = [instance.port for instance in instances]
        if scenario.writes_through_first_instance:
            load.write_ports = [instances[0].port]
        load.start()
        time.sleep(timings.healthy)
        fault_started = time.monotonic()
        if scenario.fault is not None:
            scenario.fault(servers, timings)
        fault_ended = time.monotonic()
        # Entries that missed an invalidation during the fault must age out in this time.
        time.sleep(timings.ttl + 1)
        requests = load.stop()
        if env["TASKLIST_INVALIDATION"] == "expire":
            # Nothing is invalidated: the last writes show once the entries expire.
            time.sleep(timings.ttl + MEMCACHED_CLOCK_TICK)
        stored = dict(postgres.query(DATABASE, "SELECT id, name FROM mc_tasklist_task"))
        agree = all(shows_exactly(instance, stored) for instance in instances)
        evictions = sum(int(server.stats()["evictions"]) for server in servers.memcached)
    finally:
        for instance in instances:
            instance.stop()
        for proxy in [*servers.proxies, servers.first_instance_proxy]:
            if proxy is not None:
                proxy.stop()
        for server in servers.memcached:
            server.cleanup()
    log.flush()
    cache_waits = cache_wait_seconds(Path(log.name), log_start)
    bound = timings.ttl + MEMCACHED_CLOCK_TICK if env["TASKLIST_INVALIDATION"] == "expire" else STALENESS_BOUND
    return analyse(scenario, requests, stored, agree, evictions, cache_waits, fault_started, fault_ended, bound)


def shows_exactly(instance: GunicornInstance, stored: dict[int, str]) -> bool:
    """Every worker of the instance (several reads reach each) shows what the database holds."""
    for _ in range(6):
        page = Visitor(instance.port).get("/")
        if page.status != 200 or tasks_shown(page.text) != stored:
            return False
    return True


LOG_LINE = re.compile(r"\{.*\"event\": \"task_list\".*\}")


def cache_wait_seconds(log_path: Path, offset: int) -> list[float]:
    """Per request, the time spent waiting for memcached, from the app's own request log."""
    with open(log_path) as log:
        log.seek(offset)
        return [json.loads(line)["cache_ms"] / 1000 for line in LOG_LINE.findall(log.read())]


if __name__ == "__main__":
    sys.exit(main())
