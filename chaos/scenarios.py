"""The faults make chaos breaks things with, and the timings of each phase."""

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from testsupport.memcached import SaslMemcached
from testsupport.postgres import OwnPostgres
from testsupport.tcp_proxy import TcpProxy


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
