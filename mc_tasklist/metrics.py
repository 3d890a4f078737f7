"""/metrics: the app's shared counters in Prometheus' text format, for a scraper holding the token.

The counters are the ones the dashboard shows (mc_tasklist/stats.py), already
summed over every worker and instance in the database, so one scrape through
the load balancer sees the whole app. prometheus-client writes the format.
"""

from django.conf import settings
from django.http import Http404, HttpResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.utils import floatToGoString

from mc_tasklist import stats
from mc_tasklist.caching.keys import COUNTED_LAYERS

SERVER_COUNTERS = ["get_hits", "get_misses", "evictions"]
SERVER_GAUGES = ["bytes", "limit_maxbytes", "curr_items", "curr_connections"]


class SharedCountersCollector:
    """Turns one reading of the shared counters and the servers' numbers into metric families."""

    def __init__(self, counters: dict[str, int], servers: dict[str, dict | None] | None):
        self.counters = counters
        self.servers = servers or {}

    def collect(self):
        yield from self._layers()
        for event, name, doc in [
            ("invalidation", "invalidations", "List changes whose cache entries were invalidated"),
            ("stampede_wait", "stampede_waits", "Requests that waited for another process to fill an entry"),
            ("task_list_query", "task_list_queries", "Task list queries run against the database"),
        ]:
            yield CounterMetricFamily(f"tasklist_{name}", doc, value=self.counters[event])
        yield self._latency()
        yield from self._servers()

    def _layers(self):
        for outcome, name in [("hit", "hits"), ("miss", "misses")]:
            family = CounterMetricFamily(
                f"tasklist_cache_{name}",
                f"Reads of the app's caching layers that were a {outcome}",
                labels=["layer"],
            )
            for layer in COUNTED_LAYERS:
                family.add_metric([layer], self.counters[f"{layer}_{outcome}"])
            yield family

    def _latency(self):
        cumulative, buckets = 0, []
        for bound in [*stats.LATENCY_BUCKETS, float("inf")]:
            cumulative += self.counters.get(stats.latency_bucket_counter(bound), 0)
            buckets.append((floatToGoString(bound), cumulative))
        return HistogramMetricFamily(
            "tasklist_request_duration_seconds",
            "Time the app took to answer a request, from the first middleware to the last",
            buckets=buckets,
            sum_value=self.counters.get("request_microseconds_sum", 0) / 1_000_000,
        )

    def _servers(self):
        up = GaugeMetricFamily("tasklist_memcached_up", "1 if the cache server answered", labels=["server"])
        counters = {
            name: CounterMetricFamily(f"tasklist_memcached_{name}", f"memcached's {name}", labels=["server"])
            for name in SERVER_COUNTERS
        }
        gauges = {
            name: GaugeMetricFamily(f"tasklist_memcached_{name}", f"memcached's {name}", labels=["server"])
            for name in SERVER_GAUGES
        }
        for server, numbers in self.servers.items():
            up.add_metric([server], 0 if numbers is None else 1)
            for name, family in {**counters, **gauges}.items():
                if numbers is not None:
                    family.add_metric([server], numbers[name])
        yield up
        yield from counters.values()
        yield from gauges.values()


def exposition() -> bytes:
    """The metrics as Prometheus scrapes them."""
    stats.flush()  # This process's own counts, so they show at once.
    registry = CollectorRegistry()
    registry.register(SharedCountersCollector(stats.counters(), stats.server_stats()))
    return generate_latest(registry)


@never_cache
@require_safe
def metrics_view(request):
    token = settings.TASKLIST_METRICS_TOKEN
    if not token:
        raise Http404  # Not configured: as if there were no such page.
    scheme, _, offered = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not constant_time_compare(offered.strip(), token):
        response = HttpResponse("A bearer token is required.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
