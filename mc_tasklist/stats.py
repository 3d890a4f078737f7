"""What the cache is doing: the app's own counters per caching layer, and the servers' numbers.

Counting must not cost a request a cache round trip, so each process counts in
memory and a background thread adds its counts to shared counters in the cache
(memcached ``incr``) every TASKLIST_STATS_FLUSH_SECONDS. The dashboard sums
every worker and instance, up to that many seconds late. Counts a process had
not flushed when it died are lost.

The same thread records one sample a minute (hit rate, memory) for the chart:
the first process to find the minute without one writes it, with ``add``.
"""

import logging
import os
import secrets
import threading
import time
from collections import Counter

from django.conf import settings
from django.core.cache import cache

from mc_tasklist.caching.keys import LAYERS

logger = logging.getLogger(__name__)

COUNTERS = [
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
EPOCH_KEY = "tasklist:stats:epoch"
COUNTER_TTL = 30 * 24 * 60 * 60
SAMPLE_KEY = "tasklist:stats:sample"
SAMPLE_SECONDS = 60
HISTORY_MINUTES = 60

_pending: Counter = Counter()
_lock = threading.Lock()
_flusher_pid: int | None = None


def record(event: str, count: int = 1) -> None:
    """Count an event in this process; it reaches the shared counters at the next flush."""
    with _lock:
        _pending[event] += count


def flush() -> None:
    """Add this process's counts to the shared counters."""
    with _lock:
        counts = dict(_pending)
        _pending.clear()
    if not counts:
        return
    epoch = _epoch()
    if epoch is None:
        with _lock:  # The cache is down: keep the counts for the next try.
            _pending.update(counts)
        return
    for event, count in counts.items():
        key = _counter_key(epoch, event)
        try:
            cache.incr(key, count)
        except ValueError:
            if not cache.add(key, count, COUNTER_TTL):
                try:
                    cache.incr(key, count)
                except ValueError:
                    logger.warning("lost %d %s counts: the cache did not take them", count, event)


def counters() -> dict[str, int] | None:
    """The shared counters since the last reset, or None when the cache cannot say."""
    epoch = _epoch()
    if epoch is None:
        return None
    found = cache.get_many([_counter_key(epoch, event) for event in COUNTERS])
    return {event: int(found.get(_counter_key(epoch, event), 0)) for event in COUNTERS}


def reset_counters() -> None:
    """Start counting from zero: a new epoch; the old counters expire unread."""
    with _lock:
        _pending.clear()
    cache.set(EPOCH_KEY, secrets.token_hex(4), COUNTER_TTL)


def server_stats() -> dict[str, dict | None] | None:
    """Each server's own statistics; a server that does not answer maps to None.

    None altogether when the cache cannot report any (the in-process cache).
    """
    report = getattr(cache, "server_stats", None)
    if report is None:
        return None
    return {server: (_server_numbers(raw) if raw else None) for server, raw in report().items()}


def sample() -> None:
    """Record this minute's hit rate and memory, unless another process already has.

    Checked at every flush rather than once a minute per process, so that the
    chart heals within seconds after the cache was flushed or restarted.
    """
    minute = int(time.time() // SAMPLE_SECONDS)
    key = f"{SAMPLE_KEY}:{minute}"
    if cache.get(key) is not None:
        return
    servers = [numbers for numbers in (server_stats() or {}).values() if numbers]
    if not servers:
        return
    point = {
        "minute": minute,
        "get_hits": sum(s["get_hits"] for s in servers),
        "get_misses": sum(s["get_misses"] for s in servers),
        "bytes": sum(s["bytes"] for s in servers),
        "limit_maxbytes": sum(s["limit_maxbytes"] for s in servers),
    }
    cache.add(key, point, (HISTORY_MINUTES + 5) * SAMPLE_SECONDS)


def history() -> list[dict]:
    """The last hour's samples, oldest first, each with the hit rate of its own minute."""
    now = int(time.time() // SAMPLE_SECONDS)
    keys = [f"{SAMPLE_KEY}:{minute}" for minute in range(now - HISTORY_MINUTES, now + 1)]
    found = cache.get_many(keys)
    points = [found[key] for key in keys if key in found]
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


def _epoch() -> str | None:
    epoch = cache.get(EPOCH_KEY)
    if epoch is None:
        cache.add(EPOCH_KEY, secrets.token_hex(4), COUNTER_TTL)
        epoch = cache.get(EPOCH_KEY)
    return epoch


def _counter_key(epoch: str, event: str) -> str:
    return f"tasklist:stats:{epoch}:{event}"


def start_flusher() -> None:
    """Flush this process's counts every TASKLIST_STATS_FLUSH_SECONDS, from a background thread.

    Called by gunicorn.conf.py in each worker after the fork (a thread does not
    survive a fork). Without it, as under runserver, in management commands and
    in the test client, counts reach the shared counters when ``flush()`` or
    ``report()`` is called: the dashboard calls it for its own process.
    """
    global _flusher_pid
    with _lock:
        if _flusher_pid == os.getpid():
            return
        _flusher_pid = os.getpid()
    threading.Thread(target=_flush_forever, name="tasklist-stats", daemon=True).start()


def _flush_forever() -> None:
    while True:
        time.sleep(settings.TASKLIST_STATS_FLUSH_SECONDS)
        try:
            flush()
            sample()
        except Exception:  # The thread must outlive any one failure.
            logger.exception("flushing cache statistics failed")


def report() -> dict:
    """Everything the dashboard and `manage.py cachestats` show, as plain data."""
    flush()  # This process's own counts, so they show at once.
    app = counters()
    if app is not None:
        for layer in LAYERS:
            app[f"{layer}_hit_rate"] = hit_rate(app[f"{layer}_hit"], app[f"{layer}_miss"])
    return {"servers": server_stats(), "app": app, "history": history()}
