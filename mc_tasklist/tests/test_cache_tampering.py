"""Whatever someone else writes into the cache, the list still renders and nothing runs.

The planter uses the cache's own credentials with a plain client (another app
sharing the cache, or a leaked password); packages/sasl-memcached/tests/test_values.py
covers the backend itself.
"""

import os
import uuid

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client

from mc_tasklist.caching import keys
from mc_tasklist.models import Task
from testsupport.pages import task_names

pytestmark = pytest.mark.django_db(transaction=True)


class RunsACommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def marker(tmp_path):
    return tmp_path / f"planted-{uuid.uuid4().hex}"


@pytest.fixture
def tasks():
    Task.objects.bulk_create(Task(name=f"Task {i}") for i in range(3))
    Client().get("/")  # every layer filled
    return ["Task 2", "Task 1", "Task 0"]


def plant(memcached, key: str, value) -> None:
    with memcached.client() as planter:
        planter.set(cache.make_key(key), value)


@pytest.mark.parametrize("key", [keys.page_key(), keys.tasks_key()], ids=["page", "query"])
def test_a_planted_pickle_under_a_list_key_runs_nothing_and_the_list_renders(memcached, tasks, marker, key):
    plant(memcached, key, RunsACommand(str(marker)))
    if key != keys.page_key():
        cache.delete(keys.page_key())
    response = Client().get("/")
    assert response.status_code == 200
    assert task_names(response.content.decode()) == tasks
    assert not marker.exists()


@pytest.mark.parametrize(
    ("key", "wrong"),
    [
        (keys.page_key(), {"not": "a page"}),
        (keys.page_key(), "a str, not bytes"),
        (keys.tasks_key(), b"bytes"),
        (keys.tasks_key(), {"tasks": [{"id": 1}], "count": 1}),
        (keys.tasks_key(), {"tasks": "no", "count": 1}),
    ],
    ids=["page-dict", "page-str", "query-bytes", "query-task-without-name", "query-tasks-not-a-list"],
)
def test_a_signed_value_of_the_wrong_shape_is_replaced_not_served(tasks, key, wrong, caplog):
    cache.set(key, wrong)  # signed by the app: as if copied from another key
    if key != keys.page_key():
        cache.delete(keys.page_key())  # so that the list is read
    response = Client().get("/")
    assert response.status_code == 200
    assert task_names(response.content.decode()) == tasks
    assert "has the wrong shape" in caplog.text
    assert cache.get(key) != wrong


def test_a_row_of_the_wrong_type_is_rendered_again(tasks):
    task = Task.objects.get(name="Task 1")
    cache.set(keys.fragment_key({"id": task.id, "name": task.name, "created_at": task.created_at}), 12345)
    cache.delete(keys.page_key())
    response = Client().get("/")
    assert task_names(response.content.decode()) == tasks


def test_a_planted_session_runs_nothing(memcached, marker, django_user_model):
    user = django_user_model.objects.create_user("staff", password="a-long-password-123", is_staff=True)
    visitor = Client()
    visitor.force_login(user)
    session_key = visitor.cookies[settings.SESSION_COOKIE_NAME].value
    plant(memcached, f"django.contrib.sessions.cached_db{session_key}", RunsACommand(str(marker)))
    response = visitor.get("/stats/")
    assert not marker.exists()
    # cached_db falls back to the database row, which Django signed: the visitor is still logged in.
    assert response.status_code == 200
