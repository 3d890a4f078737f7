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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import bmemcached

from chaos.load import Load, Request, lost_writes, outcomes, stale_reads, tasks_shown
from testsupport.gunicorn import REPO, GunicornInstance, collectstatic, migrate
from testsupport.http import Visitor
from testsupport.memcached import SaslMemcached
from testsupport.postgres import OwnPostgres
from testsupport.tcp_proxy import TcpProxy

RESULTS = REPO / "chaos" / "results"
DATABASE = "chaos"
# The whole list fits on one page, so every read shows every task and can be
# checked against every acknowledged write.
PAGE_SIZE = 1000
# What "a request slower because of the cache" may cost, and how fast the
# database-down page must come.
CACHE_DELAY_BUDGET = 0.5
UNAVAILABLE_PAGE_BUDGET = 1.0
# memcached counts expiry times in whole seconds: an entry can outlive its TTL by up to one.
MEMCACHED_CLOCK_TICK = 1
# The only right answers. A remove may find the task already deleted by another
# visitor (404); a 503 is right only while PostgreSQL is down, and just after.
EXPECTED_ANSWERS = {"read": {200}, "add": {302}, "remove": {302, 404}, "bad": {400}}


@dataclass(frozen=True)
class Timings:
    healthy: float  # load before the fault
    outage: float  # how long a server stays down or cut off
    pause: float  # how long memcached is frozen with SIGSTOP
    ttl: int  # TASKLIST_CACHE_TTL: after a fault, stale entries must be gone within it


FULL = Timings(healthy=10, outage=5, pause=5, ttl=10)
QUICK = Timings(healthy=3, outage=2, pause=5, ttl=4)


@dataclass
class Servers:
    postgres: OwnPostgres
    memcached: list[SaslMemcached] = field(default_factory=list)
    # When there are several memcached nodes, the app reaches each through a
    # proxy that can cut it off.
    proxies: list[TcpProxy] = field(default_factory=list)

    def cache_locations(self) -> str:
        return ",".join(server.server for server in self.proxies or self.memcached)


# Faults. Each returns once the broken server is back.


def kill_memcached(servers: Servers, timings: Timings) -> None:
    servers.memcached[0].kill()
    time.sleep(timings.outage)
    servers.memcached[0].start()


def pause_memcached(servers: Servers, timings: Timings) -> None:
    servers.memcached[0].pause()
    time.sleep(timings.pause)
    servers.memcached[0].resume()


def restart_postgres(servers: Servers, timings: Timings) -> None:
    servers.postgres.stop_server()
    time.sleep(timings.outage)
    servers.postgres.start_server()


def fill_memcached(servers: Servers, timings: Timings) -> None:
    """Another tenant writes far more than the 2 MB the server has: the app's entries are evicted."""
    server = servers.memcached[0]
    client = bmemcached.Client([server.server], server.username, server.password)
    junk = secrets.token_bytes(200_000)
    deadline = time.monotonic() + timings.outage * 2
    try:
        while time.monotonic() < deadline:
            client.set(f"neighbour:{secrets.token_hex(8)}", junk, 600)
            time.sleep(0.01)
    finally:
        client.disconnect_all()


def cut_off_each_node(servers: Servers, timings: Timings) -> None:
    """Each node in turn, so that the one holding the list's entries is among them."""
    for proxy in servers.proxies:
        proxy.cut()
        time.sleep(timings.outage)
        proxy.restore()
        time.sleep(timings.outage)


@dataclass(frozen=True)
class Scenario:
    name: str
    fault: Callable[[Servers, Timings], None] | None
    memcached_nodes: int = 1
    memcached_mb: int = 64
    cache_only: bool = True  # the fault is in the cache alone: no 5xx allowed


SCENARIOS = [
    Scenario("no fault", None),
    Scenario("memcached killed, restarted empty", kill_memcached),
    Scenario("memcached frozen (SIGSTOP), resumed", pause_memcached),
    Scenario("PostgreSQL restarted", restart_postgres, cache_only=False),
    Scenario("memcached 2 MB, evicting", fill_memcached, memcached_mb=2),
    Scenario("2 memcached, each cut off, back with old entries", cut_off_each_node, memcached_nodes=2),
]


@dataclass
class Result:
    scenario: str
    requests: int
    outcomes: dict[str, int]
    outcomes_by_kind: dict[str, dict[str, int]]
    slowest_healthy: float
    slowest_during_fault: float
    slowest_cache_wait: float  # the longest any request waited for memcached (from the app's log)
    staleness_healthy: float
    staleness_after_fault: float
    lost_writes: int
    instances_agree: bool
    evictions: int = 0
    unavailable_pages: int = 0
    slowest_unavailable_page: float = 0.0
    recovery: float | None = None  # database back -> first acknowledged write
    missed: list[str] = field(default_factory=list)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter phases: about 2 minutes")
    parser.add_argument("--strategy", default="delete", choices=["delete", "version", "update", "expire"])
    parser.add_argument("--visitors", type=int, default=4)
    parser.add_argument("--seed", type=int, help="repeat an earlier run's choices (its report names its seed)")
    args = parser.parse_args(argv)
    timings = QUICK if args.quick else FULL
    results = run(
        timings,
        strategy=args.strategy,
        visitors=args.visitors,
        seed=args.seed,
        report="quick" if args.quick else "full",
    )
    return 1 if any(result.missed for result in results) else 0


def run(
    timings: Timings,
    *,
    strategy: str = "delete",
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
        env = {
            "DEVELOPMENT_MODE": "False",
            "DEBUG": "False",
            "DJANGO_SECRET_KEY": "chaos-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGH",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": postgres.create_database(DATABASE),
            "TASKLIST_INVALIDATION": strategy,
            "TASKLIST_CACHE_TTL": str(timings.ttl),
            "TASKLIST_PAGE_SIZE": str(PAGE_SIZE),
        }
        collectstatic(env)
        migrate(env)
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
    postgres.execute(DATABASE, "TRUNCATE mc_tasklist_task")
    postgres.execute(
        DATABASE,
        "INSERT INTO mc_tasklist_task (name, created_at) SELECT 'seed ' || n, now() FROM generate_series(1, 10) n",
    )
    servers.memcached = [
        SaslMemcached(memory_mb=scenario.memcached_mb).start() for _ in range(scenario.memcached_nodes)
    ]
    if scenario.memcached_nodes > 1:
        servers.proxies = [TcpProxy(server.port).start() for server in servers.memcached]
    cache = servers.memcached[0]
    env = {
        **env,
        "MEMCACHIER_SERVERS": servers.cache_locations(),
        "MEMCACHIER_USERNAME": cache.username,
        "MEMCACHIER_PASSWORD": cache.password,
    }
    log_start = log.tell()
    log.write(f"===== {scenario.name}\n")
    log.flush()
    instances = [GunicornInstance(env, workers=2, log=log).start(wait=False) for _ in range(2)]
    try:
        for instance in instances:
            instance.wait_ready()
        load.ports = [instance.port for instance in instances]
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
        for proxy in servers.proxies:
            proxy.stop()
        for server in servers.memcached:
            server.cleanup()
    log.flush()
    cache_waits = cache_wait_seconds(Path(log.name), log_start)
    return analyse(scenario, requests, stored, agree, evictions, cache_waits, fault_started, fault_ended, timings)


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


def analyse(
    scenario: Scenario,
    requests: list[Request],
    stored: dict[int, str],
    agree: bool,
    evictions: int,
    cache_waits: list[float],
    fault_started: float,
    fault_ended: float,
    timings: Timings,
) -> Result:
    before = [request for request in requests if request.finished < fault_started]
    during = [request for request in requests if request.started >= fault_started]
    # Reads that overlap the fault's start are judged as after-fault reads.
    stale = stale_reads(requests)
    unavailable = [request for request in requests if request.status == 503]
    result = Result(
        scenario=scenario.name,
        requests=len(requests),
        outcomes=dict(sorted(outcomes(requests).items())),
        outcomes_by_kind={
            kind: dict(sorted(outcomes([r for r in requests if r.kind == kind]).items()))
            for kind in ("read", "add", "remove", "bad")
        },
        slowest_healthy=max((request.seconds for request in before), default=0.0),
        slowest_during_fault=max((request.seconds for request in during), default=0.0),
        slowest_cache_wait=max(cache_waits, default=0.0),
        staleness_healthy=max((s.seconds for s in stale if s.read.finished < fault_started), default=0.0),
        staleness_after_fault=max((s.seconds for s in stale if s.read.finished >= fault_started), default=0.0),
        lost_writes=len(lost_writes(requests, stored)),
        instances_agree=agree,
        evictions=evictions,
        unavailable_pages=len(unavailable),
        slowest_unavailable_page=max((request.seconds for request in unavailable), default=0.0),
    )
    if not scenario.cache_only:
        writes_after = [
            request.finished - fault_ended
            for request in requests
            if request.acknowledged and request.started >= fault_ended
        ]
        result.recovery = min(writes_after, default=None)
    result.missed = missed_targets(scenario, result, requests, timings, fault_started, fault_ended)
    return result


def missed_targets(
    scenario: Scenario,
    result: Result,
    requests: list[Request],
    timings: Timings,
    fault_started: float,
    fault_ended: float,
) -> list[str]:
    missed = []
    database_down = not scenario.cache_only
    unexpected = [
        request
        for request in requests
        if request.status not in EXPECTED_ANSWERS[request.kind]
        and not (database_down and request.status == 503 and fault_started <= request.finished <= fault_ended + 2)
    ]
    if unexpected:
        missed.append(f"unexpected answers: {dict(outcomes(unexpected))}")
    if database_down:
        if result.slowest_unavailable_page > UNAVAILABLE_PAGE_BUDGET:
            missed.append(f"a 503 page took {result.slowest_unavailable_page:.2f} s")
        if result.recovery is None or result.recovery > 5:
            missed.append(f"no write acknowledged within 5 s of the database's return ({result.recovery})")
    if scenario.cache_only and result.slowest_during_fault > result.slowest_healthy + CACHE_DELAY_BUDGET:
        missed.append(
            f"a request took {result.slowest_during_fault:.2f} s during the fault,"
            f" {result.slowest_healthy:.2f} s before"
        )
    if result.slowest_cache_wait > CACHE_DELAY_BUDGET:
        missed.append(f"a request waited {result.slowest_cache_wait:.2f} s for the cache")
    if result.staleness_healthy > 0:
        missed.append(f"stale reads while the cache was healthy ({result.staleness_healthy:.2f} s)")
    if result.staleness_after_fault > timings.ttl + MEMCACHED_CLOCK_TICK:
        missed.append(f"stale reads after the fault beyond the TTL ({result.staleness_after_fault:.2f} s)")
    if result.lost_writes:
        missed.append(f"{result.lost_writes} acknowledged writes lost")
    if not result.instances_agree:
        missed.append("the instances do not show what the database holds")
    if scenario.fault is None and result.staleness_after_fault > 0:
        missed.append(f"stale reads with no fault at all ({result.staleness_after_fault:.2f} s)")
    return missed


def write_report(results: list[Result], timings: Timings, strategy: str, visitors: int, seed: int, stem: Path) -> None:
    table = format_table(results)
    setup = (
        f"strategy {strategy}, TTL {timings.ttl} s, {visitors} visitors, 2 instances x 2 sync workers, "
        f"healthy {timings.healthy} s, outage {timings.outage} s, pause {timings.pause} s, seed {seed}"
    )
    missed = [f"- {result.scenario}: {miss}" for result in results for miss in result.missed]
    text = f"{setup}\n\n{table}\n\n" + (
        "Every target met.\n" if not missed else "Targets missed:\n" + "\n".join(missed) + "\n"
    )
    stem.with_suffix(".txt").write_text(text)
    stem.with_suffix(".json").write_text(
        json.dumps(
            {"setup": setup, "timings": timings.__dict__, "results": [result.__dict__ for result in results]},
            indent=2,
        )
    )
    print("\n" + text, flush=True)


def format_table(results: list[Result]) -> str:
    header = (
        "| scenario | requests | answers | slowest before / during (s) | longest cache wait (s) "
        "| staleness before / after (s) | lost writes | instances agree |"
    )
    lines = [header, "|" + "---|" * 8]
    for result in results:
        answers = ", ".join(f"{status}: {count}" for status, count in result.outcomes.items())
        extra = []
        if result.evictions:
            extra.append(f"{result.evictions} evictions")
        if result.recovery is not None:
            extra.append(f"503 pages: {result.unavailable_pages}, slowest {result.slowest_unavailable_page:.2f} s")
            extra.append(f"first write {result.recovery:.2f} s after PostgreSQL was back")
        name = result.scenario + (f" ({'; '.join(extra)})" if extra else "")
        lines.append(
            f"| {name} | {result.requests} | {answers} "
            f"| {result.slowest_healthy:.2f} / {result.slowest_during_fault:.2f} | {result.slowest_cache_wait:.2f} "
            f"| {result.staleness_healthy:.2f} / {result.staleness_after_fault:.2f} | {result.lost_writes} "
            f"| {'yes' if result.instances_agree else 'NO'} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
