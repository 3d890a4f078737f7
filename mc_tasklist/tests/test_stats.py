"""/stats/ and `manage.py cachestats`: the counters move as the tutorial says they should."""

import json
import re
import time

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client

from mc_tasklist import services, stats
from mc_tasklist.caching import keys
from mc_tasklist.caching.local_copies import served_pages
from mc_tasklist.models import CacheServerSample, Task

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staff():
    client = Client()
    client.force_login(User.objects.create_user("staff", password="a-long-password-123", is_staff=True))
    return client


def server(memcached) -> dict:
    """The server's own numbers, read without flushing or reading the app's counters."""
    return stats.server_stats()[memcached.server]


def app_counters() -> dict:
    return stats.report()["app"]


def changes(before: dict, after: dict) -> dict:
    return {name: after[name] - before[name] for name in before if isinstance(before[name], int)}


def test_the_dashboard_is_for_staff_only(staff):
    assert Client().get("/stats/")["Location"] == "/admin/login/?next=/stats/"
    visitor = Client()
    visitor.force_login(User.objects.create_user("visitor", password="a-long-password-123"))
    assert visitor.get("/stats/").status_code == 302
    assert staff.get("/stats/").status_code == 200


def test_a_first_load_misses_and_sets_and_a_reload_is_one_page_hit(memcached, cache_setup):
    Task.objects.bulk_create(Task(name=f"Task {i}") for i in range(3))
    before = server(memcached)
    Client().get("/")
    after_first = server(memcached)
    first = {"process_miss": 1, "page_miss": 1, "query_miss": 1, "fragment_miss": 3, "page_hit": 0}
    assert app_counters() == app_counters() | first
    assert changes(before, after_first)["get_misses"] >= 3
    assert changes(before, after_first)["cmd_set"] >= 3

    served_pages.clear()  # as another process, which has no copy of the page yet
    Client().get("/")
    after_reload = server(memcached)
    assert changes(after_first, after_reload)["get_hits"] == 1, "the reload is one get: the page"
    assert app_counters()["page_hit"] == 1
    Client().get("/")
    assert server(memcached)["get_hits"] == after_reload["get_hits"], "then none: the process's copy"
    assert app_counters() == app_counters() | {"process_hit": 1, "process_miss": 2, "page_hit": 1}


@pytest.mark.parametrize(
    ("strategy", "server_change"),
    [("delete", "delete_hits"), ("version", None), ("update", "cmd_set"), ("expire", None)],
)
def test_a_write_is_followed_by_the_invalidation_its_strategy_makes(memcached, cache_setup, strategy, server_change):
    cache_setup(invalidation=strategy)
    Client().get("/")
    Client().get("/")
    before_server, before_app = server(memcached), app_counters()
    services.task_create(name="Invalidate")
    after_server, after_app = server(memcached), app_counters()
    assert after_app["invalidation"] - before_app["invalidation"] == (0 if strategy == "expire" else 1)
    moved = changes(before_server, after_server)
    if server_change:
        assert moved[server_change] >= 1
    else:  # version: the next read asks for new keys; expire: entries live out their TTL
        assert moved["delete_hits"] == moved["incr_hits"] == 0


def test_the_page_shows_every_server_number_and_each_layer(staff, memcached):
    Client().get("/")
    Client().get("/")
    page = staff.get("/stats/").content.decode()
    assert memcached.server in page
    for label in [
        "Hit rate",
        "Get hits / misses",
        "Set commands",
        "Delete hits / misses",
        "Incr hits / misses",
        "Touch hits / misses",
        "Items",
        "Evictions",
        "Connections",
        "Uptime",
        "Memory:",
    ]:
        assert label in page
    assert re.search(r"<th scope=\"row\">process</th><td>1</td><td>1</td>", page), "the reload: this worker's copy"
    assert re.search(r"<th scope=\"row\">page</th><td>0</td><td>1</td>", page)


@pytest.mark.parametrize(("rate", "level"), [(0.95, "success"), (0.8, "success"), (0.5, "warning"), (0.2, "danger")])
def test_hit_rates_are_coloured_green_yellow_red(rate, level):
    from mc_tasklist.dashboard import hit_rate_level

    assert hit_rate_level(rate) == level
    assert hit_rate_level(None) == "secondary"


def test_the_in_process_cache_shows_servers_as_unavailable_not_zero(staff, settings):
    settings.CACHES = {"default": {"BACKEND": "sasl_memcached.locmem.LocMemLeaseCache"}}
    Client().get("/")
    response = staff.get("/stats/")
    assert response.status_code == 200
    assert b"Unavailable: the in-process cache keeps no statistics" in response.content


def test_with_memcached_down_the_page_renders_and_says_so(staff, memcached):
    memcached.stop()
    try:
        response = staff.get("/stats/")
    finally:
        memcached.start()
    assert response.status_code == 200
    assert b"Unreachable: the server did not answer" in response.content
    assert b'<th scope="row">page</th>' in response.content, "the counters are in the database"


def test_flushing_asks_for_confirmation(staff):
    cache.set("some-entry", "value")
    response = staff.post("/stats/flush", {})
    assert response.status_code == 400
    assert b"Tick the box to confirm the flush." in response.content
    assert cache.get("some-entry") == "value"
    assert staff.post("/stats/flush", {"confirm": "on"}).status_code == 302
    assert cache.get("some-entry") is None


def test_flushing_and_resetting_need_a_csrf_token():
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.create_user("staff", password="a-long-password-123", is_staff=True))
    assert client.post("/stats/flush", {"confirm": "on"}).status_code == 403
    assert client.post("/stats/reset").status_code == 403


def test_reset_starts_the_counters_from_zero(staff):
    Client().get("/")
    assert app_counters()["page_miss"] == 1
    assert staff.post("/stats/reset").status_code == 302
    counted = app_counters()
    assert {name: counted[name] for name in stats.COUNTERS} == dict.fromkeys(stats.COUNTERS, 0)


def test_counting_adds_no_cache_round_trip_to_a_request(memcached):
    Client().get("/")
    before = server(memcached)
    for _ in range(5):
        served_pages.clear()  # each read as another process's first: one page get
        Client().get("/")
    after = server(memcached)
    moved = changes(before, after)
    assert moved["get_hits"] + moved["get_misses"] == 5, "one get per page hit, nothing for the counters"
    assert moved["cmd_set"] == moved["incr_hits"] == moved["incr_misses"] == 0
    assert app_counters()["page_hit"] == 5


def test_cachestats_prints_the_same_numbers(capsys, memcached):
    Client().get("/")
    call_command("cachestats", "--json")
    report = json.loads(capsys.readouterr().out)
    assert report["app"]["page_miss"] == 1
    assert report["servers"][memcached.server]["curr_items"] >= 1
    call_command("cachestats")
    text = capsys.readouterr().out
    assert f"{memcached.server}: hit rate" in text
    assert "page      hits 0        misses 1" in text


def test_the_chart_draws_the_last_hour_of_samples(staff):
    minute = int(time.time() // stats.SAMPLE_SECONDS)
    for offset, (hits, misses) in enumerate([(10, 10), (40, 20), (100, 30)]):
        CacheServerSample.objects.create(
            minute=minute - 2 + offset, get_hits=hits, get_misses=misses, bytes=50, limit_maxbytes=100
        )
    CacheServerSample.objects.create(
        minute=minute - stats.HISTORY_MINUTES - 1, get_hits=1, get_misses=1, bytes=1, limit_maxbytes=1
    )
    history = stats.history()
    assert [p["hit_rate"] for p in history] == [0.5, 30 / 40, 60 / 70], "older than the hour is left out"
    page = staff.get("/stats/").content.decode()
    assert page.count("<polyline") == 2
    assert page.count("<circle") == 6
    assert "3 so far" in page


def test_each_minute_is_sampled_once_however_many_processes_try(memcached):
    for process in (stats.MinuteSampler(), stats.MinuteSampler()):
        process.sample()
        process.sample()
    assert len(stats.history()) == 1


def test_looking_at_the_dashboard_costs_the_cache_no_miss_and_moves_no_number(staff, memcached):
    Client().get("/")
    Client().get("/")
    staff.get("/stats/")  # the staff session is now in the cache
    before = server(memcached)
    first = staff.get("/stats/").content.decode()
    second = staff.get("/stats/").content.decode()
    call_command("cachestats")
    moved = changes(before, server(memcached))
    assert moved["get_hits"] + moved["get_misses"] <= 2 * 2, "at most two reads a view; cachestats none"
    assert moved["get_misses"] == 0
    layers = re.compile(r'<th scope="row">(page|query|fragment)</th><td>\d+</td><td>\d+</td>')
    assert layers.findall(first) == layers.findall(second) != []
    assert re.findall(r"Get hits / misses</th><td>[^<]*", first)[0].endswith(f"/ {before['get_misses']}"), (
        "the misses shown are the server's, unmoved by looking"
    )


def test_each_task_list_request_is_logged_with_how_it_was_served(caplog):
    with caplog.at_level("INFO", logger="mc_tasklist.requests"):
        response = Client().get("/")
    [record] = [r for r in caplog.records if r.name == "mc_tasklist.requests"]
    line = json.loads(record.getMessage())
    assert line["page"] == "miss"
    assert line["query"] == "miss"
    assert line["status"] == 200
    assert line["cache_ms"] >= 0
    assert response["X-Cache"] == "page=miss; query=miss; fragments=0/0"


def test_a_key_constant_is_what_the_dashboard_counts():
    assert {"page_hit", "query_hit", "fragment_hit", "invalidation"} <= set(stats.COUNTERS)
    assert keys.tasks_key().startswith("tasklist:")


@pytest.mark.gunicorn
def test_counters_from_two_instances_add_up_on_one_page(instances, app_env):
    from testsupport.gunicorn import create_staff_user
    from testsupport.http import Visitor, log_in

    create_staff_user(app_env, "staff", "a-long-password-123")
    first, second = instances(TASKLIST_STATS_FLUSH_SECONDS="0.5")
    staff = Visitor(second.port)
    log_in(staff, "staff", "a-long-password-123", "/stats/")
    staff.request("POST", "/stats/reset", {"csrfmiddlewaretoken": staff.request("GET", "/stats/").csrf_tokens()[0]})
    for _ in range(3):
        Visitor(first.port).get("/")
    for _ in range(4):
        Visitor(second.port).get("/")
    deadline = time.monotonic() + 10  # each worker flushes every 0.5 s, later on a loaded machine
    while True:
        page = staff.request("GET", "/stats/").text
        # Every read is a hit or a miss of its worker's own copy first.
        [(hits, misses)] = re.findall(r'<th scope="row">process</th><td>(\d+)</td><td>(\d+)</td>', page)
        if int(hits) + int(misses) >= 7 or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    assert int(hits) + int(misses) == 7
    assert int(misses) >= 1
