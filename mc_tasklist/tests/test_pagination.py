"""The list is paginated, newest first; every page is cached and invalidated like the first."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

from mc_tasklist import services
from mc_tasklist.caching.keys import STRATEGIES
from mc_tasklist.models import Task
from testsupport.pages import task_names

pytestmark = pytest.mark.django_db(transaction=True)

FRESH_AT_ONCE = [strategy for strategy in STRATEGIES if strategy != "expire"]


@pytest.fixture
def small_pages(settings, cache_setup):
    settings.TASKLIST_PAGE_SIZE = 3
    return cache_setup


def names(response) -> list[str]:
    return task_names(response.content.decode())


def add_tasks(count: int) -> None:
    for number in range(1, count + 1):
        services.task_create(name=f"Task {number}")


def test_the_first_page_shows_the_newest_tasks(small_pages):
    add_tasks(7)
    response = Client().get("/")
    assert names(response) == ["Task 7", "Task 6", "Task 5"]
    page = response.content.decode()
    assert "Page 1 of 3" in page
    assert 'href="?page=2"' in page
    assert "(7, newest first)" in page


def test_older_pages_follow(small_pages):
    add_tasks(7)
    assert names(Client().get("/?page=2")) == ["Task 4", "Task 3", "Task 2"]
    last = Client().get("/?page=3")
    assert names(last) == ["Task 1"]
    assert 'href="?page=2"' in last.content.decode()
    assert 'rel="next"' not in last.content.decode()


def test_a_task_just_added_is_on_the_first_page(small_pages):
    add_tasks(10)
    Client().get("/")
    services.task_create(name="Just added")
    assert names(Client().get("/"))[0] == "Just added"


@pytest.mark.parametrize("value", ["abc", "0", "-4", "", "1.5", "9" * 5000])
def test_a_page_value_that_is_not_a_positive_number_gets_the_first_page(small_pages, value):
    add_tasks(4)
    response = Client().get("/", {"page": value})
    assert response.status_code == 200
    assert names(response) == ["Task 4", "Task 3", "Task 2"]


@pytest.mark.parametrize("value", ["3", "99", "9" * 100])
def test_a_page_beyond_the_last_is_a_404_showing_the_last_page(small_pages, value):
    add_tasks(4)
    response = Client().get("/", {"page": value})
    assert response.status_code == 404
    assert names(response) == ["Task 1"]
    assert "here is the last page" in response.content.decode()


def test_a_page_beyond_the_last_is_not_cached(small_pages):
    from django.core.cache import cache

    from mc_tasklist.caching import keys

    add_tasks(4)
    Client().get("/?page=99")
    assert cache.get(keys.page_key(99)) is None
    assert cache.get(keys.tasks_key(99)) is None


def test_every_page_is_served_from_the_page_cache(small_pages):
    add_tasks(7)
    Client().get("/?page=2")
    assert Client().get("/?page=2")["X-Cache"].endswith("page=hit")


@pytest.mark.parametrize("strategy", FRESH_AT_ONCE)
def test_a_write_refreshes_every_cached_page(small_pages, strategy):
    small_pages(invalidation=strategy)
    add_tasks(6)
    for number in (1, 2):
        Client().get(f"/?page={number}")
    services.task_create(name="Newest")
    assert names(Client().get("/?page=1")) == ["Newest", "Task 6", "Task 5"]
    assert names(Client().get("/?page=2")) == ["Task 4", "Task 3", "Task 2"]
    assert names(Client().get("/?page=3")) == ["Task 1"]


@pytest.mark.parametrize("strategy", FRESH_AT_ONCE)
def test_a_page_that_a_delete_removed_is_not_served_from_the_cache(small_pages, strategy):
    small_pages(invalidation=strategy)
    add_tasks(4)
    assert names(Client().get("/?page=2")) == ["Task 1"]
    services.task_delete(task_id=Task.objects.get(name="Task 4").id)
    assert Client().get("/?page=2").status_code == 404


@pytest.mark.parametrize("strategy", FRESH_AT_ONCE)
def test_a_bulk_delete_in_the_admin_refreshes_every_page(small_pages, strategy):
    small_pages(invalidation=strategy)
    add_tasks(9)
    for number in (1, 2, 3):
        Client().get(f"/?page={number}")
    admin = Client()
    admin.force_login(User.objects.create_superuser("admin", "a@example.com", "a-long-password-123"))
    doomed = list(Task.objects.filter(name__in=["Task 1", "Task 2", "Task 3", "Task 8"]).values_list("id", flat=True))
    response = admin.post(
        "/admin/mc_tasklist/task/", {"action": "delete_selected", "_selected_action": doomed, "post": "yes"}
    )
    assert response.status_code == 302
    assert names(Client().get("/?page=1")) == ["Task 9", "Task 7", "Task 6"]
    assert names(Client().get("/?page=2")) == ["Task 5", "Task 4"]
    assert Client().get("/?page=3").status_code == 404


@pytest.mark.parametrize("strategy", ["delete", "update"])
def test_pages_past_those_deleted_by_key_are_refreshed_by_their_generation(settings, cache_setup, strategy):
    from mc_tasklist.caching import keys

    cache_setup(invalidation=strategy)
    settings.TASKLIST_PAGE_SIZE = 1
    Task.objects.bulk_create(Task(name=f"Task {n}") for n in range(1, keys.PAGES_DELETED_BY_KEY + 6))
    deep = keys.PAGES_DELETED_BY_KEY + 3
    before = names(Client().get(f"/?page={deep}"))
    assert "page=hit" in Client().get(f"/?page={deep}")["X-Cache"]
    services.task_create(name="Newest")
    after = names(Client().get(f"/?page={deep}"))
    assert after != before, "every task moved one page down"
    assert after == [f"Task {keys.PAGES_DELETED_BY_KEY + 5 - deep + 2}"]


def test_a_write_deletes_as_many_keys_at_a_million_tasks_as_at_a_hundred(settings, cache_setup, memcached):
    from mc_tasklist.caching import keys

    def deletes_for_an_add() -> int:
        before = memcached.stats()
        services.task_create(name="Counted")
        after = memcached.stats()
        return sum(int(after[name]) - int(before[name]) for name in ("delete_hits", "delete_misses"))

    Task.objects.bulk_create(Task(name=f"Task {n}") for n in range(100))
    settings.TASKLIST_PAGE_SIZE = 50
    small = deletes_for_an_add()
    settings.TASKLIST_PAGE_SIZE = 1  # as many pages as a million tasks on pages of fifty would make
    large = deletes_for_an_add()
    assert small == 2 * 3, "both entries of each of the three pages"
    # The first pages' entries, and the deep pages' generation (deleted: none was read yet, so none exists).
    assert large == 2 * keys.PAGES_DELETED_BY_KEY + 1
