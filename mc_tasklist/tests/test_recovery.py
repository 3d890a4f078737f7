"""Once memcached answers again, every read is exact: it shows every acknowledged write, on every
instance, from the first request on, and no read goes back in time on one instance.

Two gunicorn instances (two workers each) on one PostgreSQL and a SASL memcached
of this module's own. memcached is killed and restarted, then frozen under a read
load (so that threads on both instances time out and skip it for their 3 s
back-off) and resumed. Then, within that back-off, a visitor writes through one
instance and reads through both right after each acknowledgement. Every read must
show exactly the acknowledged list: a missing add or a deleted task shown again is
a stale read, and, since nothing else writes, a read that lost a write an earlier
one showed went back in time.
"""

import threading
import time

import psycopg
import pytest
from sasl_memcached.testing import SaslMemcached

from testsupport.gunicorn import GunicornInstance
from testsupport.http import Visitor
from testsupport.pages import tasks_shown

pytestmark = pytest.mark.gunicorn

ROUNDS = 60  # spread over the 3 s back-off and past its end, as its threads come back one by one
ROUND_SECONDS = 0.075
READS_PER_INSTANCE = 3  # after each write, through each instance (new connections: any worker)


@pytest.fixture
def own_memcached():
    server = SaslMemcached().start()
    yield server
    server.cleanup()


@pytest.fixture
def two_instances(app_env, own_memcached):
    env = {**app_env, **own_memcached.env(), "TASKLIST_CACHE_TTL": "60"}
    instances = [GunicornInstance(env, workers=2).start(wait=False) for _ in range(2)]
    try:
        for instance in instances:
            instance.wait_ready()
        yield instances
    finally:
        for instance in instances:
            instance.stop()


def names_shown(instance) -> set[str]:
    response = Visitor(instance.port).get("/")
    assert response.status == 200, response.status
    return set(tasks_shown(response.text).values())


def read_while(instances, stop: threading.Event) -> None:
    while not stop.is_set():
        for instance in instances:
            names_shown(instance)


def test_every_read_after_the_cache_returns_shows_exactly_the_acknowledged_list(app_env, two_instances, own_memcached):
    writer, other = two_instances
    visitor = Visitor(writer.port)
    for name in ("First", "Second"):
        assert visitor.post("/add", {"name": name}).status == 302
    expected = {"First", "Second"}
    for _ in range(8):  # every worker has cached pages and talked to memcached
        for instance in two_instances:
            names_shown(instance)

    own_memcached.kill()
    time.sleep(1)
    own_memcached.start()
    time.sleep(0.5)
    stop = threading.Event()
    readers = [threading.Thread(target=read_while, args=(two_instances, stop)) for _ in range(8)]
    for reader in readers:
        reader.start()
    time.sleep(0.3)
    own_memcached.pause()  # the readers' threads time out and skip memcached for 3 s
    time.sleep(1.0)
    own_memcached.resume()
    stop.set()
    for reader in readers:
        reader.join()

    wrong = []
    with psycopg.connect(app_env["DATABASE_URL"], autocommit=True) as database:
        for round_number in range(ROUNDS):
            if round_number % 4 == 3:  # a delete, of the newest task
                name = f"Round {round_number - 1}"
                (task_id,) = database.execute("SELECT id FROM mc_tasklist_task WHERE name = %s", [name]).fetchone()
                assert visitor.post("/remove", {"id": task_id}).status == 302
                expected.remove(name)
            else:
                name = f"Round {round_number}"
                assert visitor.post("/add", {"name": name}).status == 302
                expected.add(name)
            acknowledged = time.monotonic()
            for _ in range(READS_PER_INSTANCE):
                for instance in (other, writer):
                    if (shown := names_shown(instance)) != expected:
                        side = "writer's" if instance is writer else "other"
                        wrong.append(
                            f"round {round_number}, the {side} instance, {time.monotonic() - acknowledged:.3f} s"
                            f" after: missing {sorted(expected - shown)}, extra {sorted(shown - expected)}"
                        )
            time.sleep(max(0.0, acknowledged + ROUND_SECONDS - time.monotonic()))
    assert not wrong, f"{len(wrong)} reads after an acknowledged write showed another list: {wrong}"
