"""What the cache is doing: the app's own counters per caching layer, and the servers' numbers.

Counting must not cost a request a round trip, so each process counts in
memory and a background thread adds its counts to shared counters every
TASKLIST_STATS_FLUSH_SECONDS. The shared counters and the minute samples for
the chart live in the database, not in the cache they describe: the dashboard,
`manage.py cachestats` and /metrics read them without a single cache get, so
looking does not move the hit rates they show, and a cache flush or restart
does not zero them. They sum every worker and instance, up to that many seconds
late. Counts a process had not flushed when it died are lost.
"""

import logging
import os
import threading
import time
from collections import Counter

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, close_old_connections, connection

from mc_tasklist.caching.keys import COUNTED_LAYERS
from mc_tasklist.models import CacheServerSample, SharedCounter
from mc_tasklist.outages import OutageLog

logger = logging.getLogger(__name__)

COUNTERS = [
    "process_hit",
    "process_miss",
    "page_hit",
    "page_miss",
    "query_hit",
    "query_miss",
    "fragment_hit",
    "fragment_miss",
    "invalidation",
    "stampede_wait",
    "task_list_query",
]
# Request latency as a histogram: Prometheus' default buckets, in seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
SAMPLE_SECONDS = 60
HISTORY_MINUTES = 60


class UnflushedCounts:
    """What this process counted since its last flush: in memory, so that counting costs no round trip."""

    def __init__(self):
        self._counts: Counter = Counter()
        self._lock = threading.Lock()

    def add(self, event: str, count: int = 1) -> None:
        with self._lock:
            self._counts[event] += count

    def add_all(self, counts: dict[str, int]) -> None:
        with self._lock:
            self._counts.update(counts)

    def take(self) -> dict[str, int]:
        """Everything counted so far, leaving nothing."""
        with self._lock:
            counts = dict(self._counts)
            self._counts.clear()
        return counts

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()


# One per process.
unflushed = UnflushedCounts()


def record(event: str, count: int = 1) -> None:
    """Count an event in this process; it reaches the shared counters at the next flush."""
    unflushed.add(event, count)


def observe_request(seconds: float) -> None:
    """Count one request's duration into its latency bucket (cumulated when shown)."""
    bound = next((bound for bound in LATENCY_BUCKETS if seconds <= bound), float("inf"))
    unflushed.add_all(
        {
            latency_bucket_counter(bound): 1,
            "request_seconds_count": 1,
            "request_microseconds_sum": round(seconds * 1_000_000),
        }
    )


def latency_bucket_counter(bound: float) -> str:
    """The counter of requests that took at most ``bound`` seconds and more than the bucket below."""
    return f"request_seconds_bucket:{bound:g}"


# The counts are kept in memory meanwhile.
_flush_outage = OutageLog(logger, "flushing cache statistics")


def flush() -> None:
    """Add this process's counts to the shared counters, in one statement."""
    if not (counts := unflushed.take()):
        return
    try:
        _add_to_shared_counters(counts)
    except DatabaseError as error:
        unflushed.add_all(counts)  # The database is down: kept for the next try.
        _flush_outage.failed(error)
    else:
        _flush_outage.succeeded()


def _add_to_shared_counters(counts: dict[str, int]) -> None:
    # An upsert that adds, which the ORM cannot say (bulk_create's
    # update_conflicts overwrites); PostgreSQL and SQLite both understand it.
    table = connection.ops.quote_name(SharedCounter._meta.db_table)
    rows = ", ".join(["(%s, %s)"] * len(counts))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (name, value) VALUES {rows} "
            f"ON CONFLICT (name) DO UPDATE SET value = {table}.value + excluded.value",
            [item for name_count in counts.items() for item in name_count],
        )


def counters() -> dict[str, int]:
    """Every shared counter since the last reset, the named ones as 0 until first counted."""
    found = dict(SharedCounter.objects.values_list("name", "value"))
    return {event: 0 for event in COUNTERS} | found


def reset_counters() -> None:
    """Start counting from zero."""
    discard_unflushed()
    SharedCounter.objects.all().delete()


def discard_unflushed() -> None:
    """Forget the counts this process has not flushed yet."""
    unflushed.clear()


def server_stats() -> dict[str, dict | None] | None:
    """Each server's own statistics; a server that does not answer maps to None.

    None altogether when the cache cannot report any (the in-process cache).
    memcached's `stats` command reads no key: it moves no hit or miss.
    """
    report = getattr(cache, "server_stats", None)
    if report is None:
        return None
    return {server: (_server_numbers(raw) if raw else None) for server, raw in report().items()}


class MinuteSampler:
    """Records the cache servers' totals once a minute, for the dashboard's chart."""

    def __init__(self):
        self.last_minute: int | None = None  # the minute this process last sampled

    def sample(self) -> None:
        """This minute's totals, unless a process already has them; samples past the hour dropped."""
        minute = int(time.time() // SAMPLE_SECONDS)
        if self.last_minute != minute:
            _store_sample(minute)
            self.last_minute = minute


def _store_sample(minute: int) -> None:
    servers = [numbers for numbers in (server_stats() or {}).values() if numbers]
    if servers:
        point = CacheServerSample(
            minute=minute,
            get_hits=sum(s["get_hits"] for s in servers),
            get_misses=sum(s["get_misses"] for s in servers),
            bytes=sum(s["bytes"] for s in servers),
            limit_maxbytes=sum(s["limit_maxbytes"] for s in servers),
        )
        CacheServerSample.objects.bulk_create([point], ignore_conflicts=True)
        CacheServerSample.objects.filter(minute__lt=minute - HISTORY_MINUTES).delete()


def history() -> list[dict]:
    """The last hour's samples, oldest first, each with the hit rate of its own minute."""
    now = int(time.time() // SAMPLE_SECONDS)
    points = list(
        CacheServerSample.objects.filter(minute__gte=now - HISTORY_MINUTES).values(
            "minute", "get_hits", "get_misses", "bytes", "limit_maxbytes"
        )
    )
    for previous, point in zip([None, *points], points, strict=False):
        if previous is None or point["get_hits"] < previous["get_hits"]:
            gets, hits = point["get_hits"] + point["get_misses"], point["get_hits"]  # first, or a restart
        else:
            hits = point["get_hits"] - previous["get_hits"]
            gets = hits + point["get_misses"] - previous["get_misses"]
        point["hit_rate"] = hits / gets if gets else None
    return points


def hit_rate(hits: int, misses: int) -> float | None:
    return hits / (hits + misses) if hits + misses else None


def _server_numbers(raw: dict) -> dict:
    def number(name: str) -> int:
        value = raw.get(name, b"0")
        return int(float(value.decode() if isinstance(value, bytes) else value))

    numbers = {
        name: number(name)
        for name in [
            "get_hits",
            "get_misses",
            "cmd_set",
            "delete_hits",
            "delete_misses",
            "incr_hits",
            "incr_misses",
            "decr_hits",
            "decr_misses",
            "touch_hits",
            "touch_misses",
            "curr_items",
            "bytes",
            "limit_maxbytes",
            "evictions",
            "curr_connections",
            "total_connections",
            "uptime",
        ]
    }
    numbers["hit_rate"] = hit_rate(numbers["get_hits"], numbers["get_misses"])
    return numbers


class Flusher:
    """Flushes this process's counts every TASKLIST_STATS_FLUSH_SECONDS from a background thread,
    and samples the servers' totals once a minute.

    Started by gunicorn.conf.py in each worker after the fork (a thread does not
    survive a fork). Without it, as under runserver, in management commands and
    in the test client, counts reach the shared counters when ``flush()`` or
    ``report()`` is called: the dashboard calls it for its own process.
    """

    def __init__(self):
        self.running_in: int | None = None  # the process id whose thread runs, if any
        self.sampler = MinuteSampler()
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self.running_in == os.getpid():
                return
            self.running_in = os.getpid()
        threading.Thread(target=self._run, name="tasklist-stats", daemon=True).start()

    def _run(self) -> None:
        while True:
            time.sleep(settings.TASKLIST_STATS_FLUSH_SECONDS)
            try:
                flush()
                self.sampler.sample()
            except Exception:  # The thread must outlive any one failure.
                logger.exception("flushing cache statistics failed")
            finally:
                # This thread's database connection goes back to the worker's pool (or is closed) as a
                # request's does when it ends: kept through the sleep, it was one of the 4 requests share.
                close_old_connections()


# One per process.
flusher = Flusher()


def report() -> dict:
    """Everything the dashboard and `manage.py cachestats` show, as plain data."""
    flush()  # This process's own counts, so they show at once.
    app = counters()
    for layer in COUNTED_LAYERS:
        app[f"{layer}_hit_rate"] = hit_rate(app[f"{layer}_hit"], app[f"{layer}_miss"])
    return {"servers": server_stats(), "app": app, "history": history()}
