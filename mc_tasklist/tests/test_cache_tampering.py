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
from mc_tasklist.caching.list_version import list_versions
from mc_tasklist.caching.local_copies import served_pages
from mc_tasklist.models import Task
from mc_tasklist.paging import FIRST
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


def first_page_key(layer: str) -> str:
    """The key the next read of the first page asks for: named by the list's version (``update``)."""
    served_pages.clear()  # what follows reads the cache, as another process would
    return {"page": keys.page_key, "query": keys.tasks_key}[layer](FIRST, list_versions.current().list)


@pytest.mark.parametrize("layer", ["page", "query"])
def test_a_planted_pickle_under_a_list_key_runs_nothing_and_the_list_renders(memcached, tasks, marker, layer):
    key = first_page_key(layer)
    plant(memcached, key, RunsACommand(str(marker)))
    if layer != "page":
        cache.delete(first_page_key("page"))
    response = Client().get("/")
    assert response.status_code == 200
    assert task_names(response.content.decode()) == tasks
    assert not marker.exists()


@pytest.mark.parametrize(
    ("layer", "wrong"),
    [
        ("page", {"not": "a page"}),
        ("page", "a str, not bytes"),
        ("query", b"bytes"),
        ("query", {"tasks": [{"id": 1}], "count": 1}),
        ("query", {"tasks": "no", "count": 1}),
    ],
    ids=["page-dict", "page-str", "query-bytes", "query-task-without-name", "query-tasks-not-a-list"],
)
def test_a_signed_value_of_the_wrong_shape_is_replaced_not_served(tasks, layer, wrong, caplog):
    key = first_page_key(layer)
    cache.set(key, wrong)  # signed by the app: as if copied from another key
    if layer != "page":
        cache.delete(first_page_key("page"))  # so that the list is read
    response = Client().get("/")
    assert response.status_code == 200
    assert task_names(response.content.decode()) == tasks
    assert "has the wrong shape" in caplog.text
    assert cache.get(key) != wrong


def test_a_row_of_the_wrong_type_is_rendered_again(tasks):
    task = Task.objects.get(name="Task 1")
    cache.set(keys.fragment_key({"id": task.id, "name": task.name, "created_at": task.created_at}), 12345)
    cache.delete(first_page_key("page"))
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
