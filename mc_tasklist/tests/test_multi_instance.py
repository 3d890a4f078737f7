"""Two gunicorn instances, two workers each, one PostgreSQL, one SASL memcached.

Once a write has returned, every worker of every instance serves the new list
(under ``expire``, within TASKLIST_CACHE_TTL seconds: its documented lag).
Writes go through one instance, reads through the other at once, many times,
for every invalidation strategy and every combination of layers.
"""

import itertools
import time

import pytest
from django.core.cache import caches

from mc_tasklist.caching.keys import LAYERS, STRATEGIES
from testsupport.http import Visitor
from testsupport.pages import task_names, tasks_shown

pytestmark = pytest.mark.gunicorn

LAYER_SETS = [",".join(c) for n in range(len(LAYERS) + 1) for c in itertools.combinations(LAYERS, n)]
ROUNDS = 5
EXPIRE_TTL = 1


def task_id(page: str, name: str) -> str:
    return next(str(shown_id) for shown_id, shown_name in tasks_shown(page).items() if shown_name == name)


def anonymous_list(instance) -> list[str]:
    """What a new visitor (no cookies, so served from the page cache) sees."""
    response = Visitor(instance.port).get("/")
    assert response.status == 200
    return task_names(response.text)


def wait_for(instance, predicate, *, within: float) -> float:
    start = time.monotonic()
    while not predicate(anonymous_list(instance)):
        assert time.monotonic() - start < within, f"not seen within {within}s"
        time.sleep(0.05)
    return time.monotonic() - start


@pytest.mark.parametrize("layers", LAYER_SETS, ids=lambda layers: layers or "no-cache")
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_instances_agree_after_every_write(instances, strategy, layers):
    caches["default"].clear()
    ttl = EXPIRE_TTL if strategy == "expire" else 60
    first, second = instances(TASKLIST_INVALIDATION=strategy, TASKLIST_CACHE_LAYERS=layers, TASKLIST_CACHE_TTL=ttl)
    writer_one, writer_two = Visitor(first.port), Visitor(second.port)
    # Under expire a reader may lag by the TTL, plus memcached's one-second clock.
    lag = EXPIRE_TTL + 1.5 if strategy == "expire" and ({"query", "page"} & set(layers.split(","))) else 0
    rounds = 2 if lag else ROUNDS
    for round_number in range(rounds):
        name = f"{strategy}/{layers or 'none'}/{round_number}"
        anonymous_list(first), anonymous_list(second)  # both caches warm with the old list

        assert writer_one.post("/add", {"name": name}).status == 302
        for instance in (second, first):
            if lag:
                wait_for(instance, lambda names, name=name: name in names, within=lag)
            else:
                assert name in anonymous_list(instance)

        page = writer_two.get("/").text
        assert writer_two.post("/remove", {"id": task_id(page, name)}).status == 302
        for instance in (first, second):
            if lag:
                wait_for(instance, lambda names, name=name: name not in names, within=lag)
            else:
                assert name not in anonymous_list(instance)


def test_a_visitor_sees_their_own_write_on_every_worker_many_times(instances):
    first, second = instances()
    visitor = Visitor(first.port)
    for round_number in range(30):
        name = f"read-your-write/{round_number}"
        instance = (first, second)[round_number % 2]
        visitor.port = instance.port
        assert visitor.post("/add", {"name": name}).status == 302
        visitor.port = (second, first)[round_number % 2].port
        page = visitor.get("/").text
        assert name in task_names(page)
        assert f"Added “{name}”." in page, "the flash message follows the visitor to the other instance"


@pytest.mark.parametrize("fault", ["killed", "paused"])
def test_every_worker_serves_pages_and_takes_writes_while_memcached_is_down(instances, request, fault):
    from testsupport.pytest_plugin import memcached_key

    memcached = request.config.stash[memcached_key]
    first, second = instances()
    for instance in (first, second):
        anonymous_list(instance)  # workers connected, pages cached
    memcached.stop() if fault == "killed" else memcached.pause()
    try:
        writer = Visitor(first.port)
        for round_number in range(6):
            name = f"{fault}/{round_number}"
            start = time.monotonic()
            assert writer.post("/add", {"name": name}).status == 302
            for instance in (first, second):
                assert name in anonymous_list(instance)
            # One 0.2 s socket timeout per worker at most, with room for a slow machine.
            assert time.monotonic() - start < 2.0
    finally:
        memcached.start() if fault == "killed" else memcached.resume()
