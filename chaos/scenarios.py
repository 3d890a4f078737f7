"""The faults make chaos breaks things with, and the timings of each phase."""

import os
import random
import secrets
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sasl_memcached.testing import SaslMemcached

from testsupport.gunicorn import GunicornInstance
from testsupport.postgres import OwnPostgres
from testsupport.tcp_proxy import TcpProxy


@dataclass(frozen=True)
class Timings:
    healthy: float  # load before the fault
    outage: float  # how long a server stays down or cut off
    pause: float  # how long memcached is frozen with SIGSTOP
    ttl: int  # TASKLIST_CACHE_TTL: after a fault, stale entries must be gone within it


# The database every scenario's app uses, in the run's own PostgreSQL cluster.
DATABASE = "chaos"

FULL = Timings(healthy=10, outage=5, pause=5, ttl=10)
QUICK = Timings(healthy=3, outage=2, pause=5, ttl=4)


@dataclass
class Servers:
    postgres: OwnPostgres
    memcached: list[SaslMemcached] = field(default_factory=list)
    # When there are several memcached nodes, the app reaches each through a
    # proxy that can cut it off.
    proxies: list[TcpProxy] = field(default_factory=list)
    # When one instance alone loses the cache, it reaches memcached through this proxy.
    first_instance_proxy: TcpProxy | None = None
    instances: list[GunicornInstance] = field(default_factory=list)

    def cache_locations(self, instance: int) -> str:
        if instance == 0 and self.first_instance_proxy is not None:
            return self.first_instance_proxy.server
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


def kill_then_freeze_memcached(servers: Servers, timings: Timings) -> None:
    """Killed and restarted empty, then, a second later, frozen and resumed holding what it had:
    after both, some threads of every worker are skipping it for their back-off, others are not."""
    kill_memcached(servers, timings)
    time.sleep(1)
    pause_memcached(servers, timings)


def restart_postgres(servers: Servers, timings: Timings) -> None:
    servers.postgres.stop_server()
    time.sleep(timings.outage)
    servers.postgres.start_server()


def freeze_postgres(servers: Servers, timings: Timings) -> None:
    servers.postgres.freeze_server()
    time.sleep(timings.pause)
    servers.postgres.thaw_server()


def fill_memcached(servers: Servers, timings: Timings) -> None:
    """Another tenant writes far more than the 2 MB the server has: the app's entries are evicted."""
    server = servers.memcached[0]
    junk = secrets.token_bytes(200_000)
    deadline = time.monotonic() + timings.outage * 2
    with server.client() as neighbour:
        while time.monotonic() < deadline:
            neighbour.set(f"neighbour:{secrets.token_hex(8)}", junk, 600)
            time.sleep(0.01)


def cut_off_each_node(servers: Servers, timings: Timings) -> None:
    """Each node in turn, so that the one holding the list's entries is among them."""
    for proxy in servers.proxies:
        proxy.cut()
        time.sleep(timings.outage)
        proxy.restore()
        time.sleep(timings.outage)


def cut_off_one_instance(servers: Servers, timings: Timings) -> None:
    """The first instance loses memcached (connections reset, new ones refused); the second keeps it."""
    servers.first_instance_proxy.cut()
    time.sleep(timings.outage)
    servers.first_instance_proxy.restore()


def hang_one_instance(servers: Servers, timings: Timings) -> None:
    """The first instance's path to memcached stalls: nothing gets through, nothing fails fast."""
    servers.first_instance_proxy.hang()
    time.sleep(timings.outage)
    servers.first_instance_proxy.unhang()


def blip_memcached(servers: Servers, timings: Timings) -> None:
    """memcached stalls for 0.3 s every 1.5 s: each stall sends the processes it catches into a back-off."""
    deadline = time.monotonic() + timings.outage * 2
    while time.monotonic() < deadline:
        servers.memcached[0].pause()
        time.sleep(0.3)
        servers.memcached[0].resume()
        time.sleep(1.2)


def kill_workers_after_commits(servers: Servers, timings: Timings) -> None:
    """As soon as a write commits, SIGKILL a worker; gunicorn starts a new one.

    Which worker wrote is unknown, so some kills land on the writer between its
    commit and its invalidation, and some on readers mid-request.
    """
    chooser = random.Random(7)
    deadline = time.monotonic() + timings.outage * 2
    last = _newest_task(servers)
    while time.monotonic() < deadline:
        newest = _newest_task(servers)
        if newest == last:
            time.sleep(0.005)
            continue
        last = newest
        workers = chooser.choice(servers.instances).worker_pids()
        if workers:
            os.kill(chooser.choice(workers), signal.SIGKILL)
        time.sleep(0.5)


def _newest_task(servers: Servers) -> int:
    return servers.postgres.query(DATABASE, "SELECT coalesce(max(id), 0) FROM mc_tasklist_task")[0][0]


@dataclass(frozen=True)
class Scenario:
    name: str
    fault: Callable[[Servers, Timings], None] | None
    memcached_nodes: int = 1
    memcached_mb: int = 64
    cache_only: bool = True  # the fault is in the cache alone: no 5xx allowed
    first_instance_proxied: bool = False  # the first instance reaches memcached through its own proxy
    kills_workers: bool = False  # requests in flight may get no answer
    writes_through_first_instance: bool = False  # reads go through both instances, writes through one
    # How soon a write must get the 503 page while the database is down: a stopped server refuses at once,
    # a hanging one is given up on after the app's deadlines (the pool's wait, then the statement's).
    unavailable_page_budget: float = 1.0


SCENARIOS = [
    Scenario("no fault", None),
    Scenario("memcached killed, restarted empty", kill_memcached),
    Scenario("memcached frozen (SIGSTOP), resumed", pause_memcached),
    Scenario(
        "memcached killed, then frozen; writes through one instance",
        kill_then_freeze_memcached,
        writes_through_first_instance=True,
    ),
    Scenario("PostgreSQL restarted", restart_postgres, cache_only=False),
    Scenario("PostgreSQL frozen (SIGSTOP), resumed", freeze_postgres, cache_only=False, unavailable_page_budget=2.0),
    Scenario("memcached 2 MB, evicting", fill_memcached, memcached_mb=2),
    Scenario("2 memcached, each cut off, back with old entries", cut_off_each_node, memcached_nodes=2),
    Scenario("one instance cut off from memcached", cut_off_one_instance, first_instance_proxied=True),
    Scenario("one instance's memcached hanging", hang_one_instance, first_instance_proxied=True),
    Scenario("memcached blips (0.3 s stalls)", blip_memcached),
    Scenario("workers SIGKILLed right after commits", kill_workers_after_commits, kills_workers=True),
]
