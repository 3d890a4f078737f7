"""/metrics: Prometheus' text format, for the scraper holding the token, summed over the whole app."""

import time

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from mc_tasklist import stats

pytestmark = pytest.mark.django_db(transaction=True)
TOKEN = "a-metrics-token-for-tests"


def scrape(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample of an exposition, by name and labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture
def token(settings):
    settings.TASKLIST_METRICS_TOKEN = TOKEN
    return TOKEN


def test_without_a_token_configured_there_is_no_metrics_page(settings):
    settings.TASKLIST_METRICS_TOKEN = ""
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer"])
def test_a_scrape_without_the_right_bearer_token_is_refused(token, authorization):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = Client().get("/metrics", **headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"tasklist_" not in response.content


def test_the_layers_queries_and_latency_are_counted(token, memcached):
    for _ in range(3):
        Client().get("/")
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = scrape(response.content.decode())
    # The first read misses this process's copy and memcached; the next two are served from the copy.
    assert samples[("tasklist_cache_hits_total", (("layer", "process"),))] == 2
    assert samples[("tasklist_cache_misses_total", (("layer", "process"),))] == 1
    assert samples[("tasklist_cache_hits_total", (("layer", "page"),))] == 0
    assert samples[("tasklist_cache_misses_total", (("layer", "page"),))] == 1
    assert samples[("tasklist_task_list_queries_total", ())] == 1
    assert samples[("tasklist_request_duration_seconds_count", ())] == 3, "the three pages; this scrape not yet"
    assert samples[("tasklist_request_duration_seconds_bucket", (("le", "+Inf"),))] == 3
    assert samples[("tasklist_memcached_up", (("server", memcached.server),))] == 1


def test_latency_buckets_are_cumulative():
    stats.observe_request(0.003)
    stats.observe_request(0.2)
    stats.observe_request(30)
    from mc_tasklist.metrics import exposition

    samples = scrape(exposition().decode())
    bucket = lambda le: samples[("tasklist_request_duration_seconds_bucket", (("le", le),))]  # noqa: E731
    assert (bucket("0.005"), bucket("0.1"), bucket("0.25"), bucket("10.0"), bucket("+Inf")) == (1, 1, 2, 2, 3)
    assert samples[("tasklist_request_duration_seconds_sum", ())] == pytest.approx(30.203)


@pytest.mark.gunicorn
def test_one_scrape_sums_every_worker_of_every_instance(instances):
    from testsupport.http import Visitor

    first, second = instances(TASKLIST_STATS_FLUSH_SECONDS="0.5", TASKLIST_METRICS_TOKEN=TOKEN)
    scraper = Visitor(first.port)
    before = scrape(scraper.request("GET", "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text)
    for _ in range(5):
        Visitor(first.port).get("/")
    for _ in range(6):
        Visitor(second.port).get("/")
    page = (("layer", "process"),)  # every page read is a hit or a miss of the worker's own copy first

    def moved(name, labels=()):
        return after[(name, labels)] - before.get((name, labels), 0)

    deadline = time.monotonic() + 10  # each worker flushes every 0.5 s, later on a loaded machine
    while True:
        after = scrape(scraper.request("GET", "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text)
        counted = moved("tasklist_cache_hits_total", page) + moved("tasklist_cache_misses_total", page)
        if counted >= 11 or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    assert moved("tasklist_cache_hits_total", page) + moved("tasklist_cache_misses_total", page) == 11
    assert moved("tasklist_request_duration_seconds_count") >= 11
    assert Visitor(second.port).request("GET", "/metrics").status == 401
