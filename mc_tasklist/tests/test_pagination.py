"""The list is paged newest first, each page anchored at a task; an add changes the first page alone."""

import contextlib
import re

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connection, transaction
from django.test import Client

from mc_tasklist import paging, services
from mc_tasklist.caching import invalidation, keys
from mc_tasklist.caching.keys import STRATEGIES
from mc_tasklist.caching.local_copies import served_pages
from mc_tasklist.models import Task
from mc_tasklist.selectors import task_count
from testsupport.http import Visitor
from testsupport.pages import task_names, tasks_shown

pytestmark = pytest.mark.django_db(transaction=True)

FRESH_AT_ONCE = [strategy for strategy in STRATEGIES if strategy != "expire"]


@pytest.fixture
def small_pages(settings, cache_setup):
    settings.TASKLIST_PAGE_SIZE = 3
    return cache_setup


def names(response) -> list[str]:
    return task_names(response.content.decode())


def link(response, label: str) -> str | None:
    found = re.search(rf'<a class="page-link" href="([^"]+)"[^>]*>{label}</a>', response.content.decode())
    return found and found.group(1)


def add_tasks(count: int) -> None:
    for number in range(1, count + 1):
        services.task_create(name=f"Task {number}")


def id_of(name: str) -> int:
    return Task.objects.get(name=name).id


def walk(client, start: str, label: str) -> list[list[str]]:
    """The pages seen following one link from ``start`` until it is gone (and any redirect on the way)."""
    pages, url = [], start
    while url:
        response = client.get(url, follow=True)
        assert response.status_code == 200, url
        pages.append(names(response))
        url = link(response, label)
        assert len(pages) < 100, "the links go round in a circle"
    return pages


def test_the_first_page_shows_the_newest_tasks_and_how_many_there_are(small_pages):
    add_tasks(7)
    response = Client().get("/")
    assert names(response) == ["Task 7", "Task 6", "Task 5"]
    assert "(7, newest first)" in response.content.decode()
    assert link(response, "Older") == f"/?before={id_of('Task 5')}"
    assert link(response, "Oldest") == "/?after=0"
    assert link(response, "Newer") is None


def test_older_links_lead_from_the_first_page_to_the_last_through_every_task_once(small_pages):
    add_tasks(7)
    assert walk(Client(), "/", "Older") == [["Task 7", "Task 6", "Task 5"], ["Task 4", "Task 3", "Task 2"], ["Task 1"]]


def test_newer_links_lead_from_the_oldest_page_back_to_the_first(small_pages):
    add_tasks(7)
    assert walk(Client(), "/?after=0", "Newer") == [
        ["Task 3", "Task 2", "Task 1"],
        ["Task 6", "Task 5", "Task 4"],
        ["Task 7", "Task 6", "Task 5"],  # fewer than a page are newer: the first page shows them
    ]


def test_a_task_just_added_is_on_the_first_page(small_pages):
    add_tasks(10)
    Client().get("/")
    services.task_create(name="Just added")
    assert names(Client().get("/"))[0] == "Just added"


@pytest.mark.parametrize("query", ["page=abc", "page=0", "page=-4", "page=", "page=1.5", "page=1"])
def test_a_page_number_that_is_not_above_one_gets_the_first_page(small_pages, query):
    add_tasks(4)
    response = Client().get(f"/?{query}")
    assert response.status_code == 200
    assert names(response) == ["Task 4", "Task 3", "Task 2"]


@pytest.mark.parametrize(
    "query", ["before=abc", "before=0", "before=-3", "after=-1", "after=1e3", "before=²", "before=" + "9" * 40]
)
def test_an_anchor_that_is_not_a_task_id_gets_the_first_page(small_pages, query):
    add_tasks(4)
    response = Client().get(f"/?{query}")
    assert response.status_code == 200
    assert names(response) == ["Task 4", "Task 3", "Task 2"]


def test_an_old_numbered_link_lands_on_the_page_that_starts_where_it_started(small_pages):
    add_tasks(7)
    response = Client().get("/?page=2")
    assert response.status_code == 302
    assert names(Client().get(response["Location"])) == ["Task 4", "Task 3", "Task 2"]


@pytest.mark.parametrize("number", ["4", "99", "9" * 100])
def test_an_old_numbered_link_past_the_end_lands_on_the_oldest_page(small_pages, number):
    add_tasks(7)
    response = Client().get(f"/?page={number}")
    assert response.status_code == 302
    assert response["Location"] == "/?after=0"
    assert names(Client().get("/?after=0")) == ["Task 3", "Task 2", "Task 1"]


def test_a_link_whose_anchor_was_deleted_shows_the_same_tasks_under_the_anchor_that_names_them(small_pages):
    add_tasks(7)
    older = link(Client().get("/"), "Older")
    services.task_delete(task_id=id_of("Task 5"))
    response = Client().get(older)
    assert response.status_code == 302
    assert response["Location"] == f"/?before={id_of('Task 6')}"
    assert names(Client().get(response["Location"])) == ["Task 4", "Task 3", "Task 2"]


def test_an_anchor_above_the_newest_task_is_the_first_page_and_is_never_cached_under_it(small_pages):
    add_tasks(4)
    above = Task.objects.order_by("-id").first().id + 10
    response = Client().get(f"/?before={above}")
    assert (response.status_code, response["Location"]) == (302, "/")
    assert cache.get(keys.page_key(paging.before(above))) is None
    assert cache.get(keys.tasks_key(paging.before(above))) is None


def test_past_the_oldest_task_there_is_the_oldest_page(small_pages):
    add_tasks(4)
    response = Client().get(f"/?before={id_of('Task 1')}")
    assert (response.status_code, response["Location"]) == (302, "/?after=0")


def test_every_page_is_served_from_the_page_cache(small_pages):
    add_tasks(7)
    older = link(Client().get("/"), "Older")
    Client().get(older)
    assert Client().get(older)["X-Cache"] == "page=process-hit"
    served_pages.clear()  # as another process
    assert Client().get(older)["X-Cache"] == "page=hit"


def test_an_add_leaves_the_older_pages_in_the_cache_and_they_stay_right(small_pages):
    add_tasks(7)
    older = link(Client().get("/"), "Older")
    before = names(Client().get(older))
    services.task_create(name="Newest")
    again = Client().get(older)
    assert again["X-Cache"] == "page=process-hit", "its version (the older pages') did not move"
    assert names(again) == before == ["Task 4", "Task 3", "Task 2"]
    assert names(Client().get("/")) == ["Newest", "Task 7", "Task 6"]


@pytest.mark.parametrize("strategy", FRESH_AT_ONCE)
@pytest.mark.parametrize("write", ["delete", "rename"])
def test_a_delete_or_a_rename_refreshes_every_cached_page(small_pages, strategy, write):
    small_pages(invalidation=strategy)
    add_tasks(7)
    pages = ["/", f"/?before={id_of('Task 5')}", f"/?before={id_of('Task 2')}", "/?after=0"]
    for url in pages:
        Client().get(url)
    if write == "delete":
        services.task_delete(task_id=id_of("Task 3"))
        older, oldest = ["Task 4", "Task 2", "Task 1"], ["Task 4", "Task 2", "Task 1"]
    else:
        services.task_update(task=Task.objects.get(name="Task 3"), name="Renamed")
        older, oldest = ["Task 4", "Renamed", "Task 2"], ["Renamed", "Task 2", "Task 1"]
    assert [names(Client().get(url)) for url in pages] == [["Task 7", "Task 6", "Task 5"], older, ["Task 1"], oldest]


@pytest.mark.parametrize("strategy", FRESH_AT_ONCE)
def test_a_bulk_delete_in_the_admin_refreshes_every_page(small_pages, strategy):
    small_pages(invalidation=strategy)
    add_tasks(9)
    for url in ("/", f"/?before={id_of('Task 7')}", f"/?before={id_of('Task 4')}"):
        Client().get(url)
    admin = Client()
    admin.force_login(User.objects.create_superuser("admin", "a@example.com", "a-long-password-123"))
    doomed = [id_of(name) for name in ("Task 1", "Task 2", "Task 5", "Task 8")]
    response = admin.post(
        "/admin/mc_tasklist/task/", {"action": "delete_selected", "_selected_action": doomed, "post": "yes"}
    )
    assert response.status_code == 302
    assert walk(Client(), "/", "Older") == [["Task 9", "Task 7", "Task 6"], ["Task 4", "Task 3"]]
    assert names(Client().get(f"/?before={id_of('Task 4')}")) == ["Task 3"]
    assert "(5, newest first)" in Client().get("/").content.decode()


def test_a_write_costs_the_cache_as_much_at_a_million_tasks_as_at_a_hundred(settings, cache_setup, memcached):
    def operations_for(write) -> int:
        before = memcached.stats()
        write()
        after = memcached.stats()
        counted = ("delete_hits", "delete_misses", "incr_hits", "incr_misses", "cmd_set")
        return sum(int(after[name]) - int(before[name]) for name in counted)

    Task.objects.bulk_create(Task(name=f"Task {n}") for n in range(100))
    settings.TASKLIST_PAGE_SIZE = 50
    add_small = operations_for(lambda: services.task_create(name="Counted"))
    delete_small = operations_for(lambda: services.task_delete(task_id=id_of("Task 50")))
    settings.TASKLIST_PAGE_SIZE = 1  # as many pages as a million tasks on pages of fifty would make
    add_large = operations_for(lambda: services.task_create(name="Counted again"))
    delete_large = operations_for(lambda: services.task_delete(task_id=id_of("Task 51")))
    # The first page's list and page entries deleted, the versions published; nothing for the older
    # pages, whose version is a counter in the database.
    assert add_small == add_large == delete_small == delete_large == 3


def test_the_count_is_right_after_every_kind_of_write(small_pages):
    add_tasks(5)
    Task.objects.bulk_create(Task(name=f"Bulk {n}") for n in range(10))
    services.task_delete(task_id=id_of("Task 2"))
    Task.objects.filter(name__startswith="Bulk 1").delete()
    assert task_count() == Task.objects.count() == 13
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE mc_tasklist_task")
    assert task_count() == 0
    add_tasks(2)
    assert task_count() == 2


@pytest.mark.parametrize("in_a_transaction", [True, False], ids=["in a transaction", "one statement"])
def test_a_late_committing_add_refreshes_the_older_pages(small_pages, in_a_transaction):
    add_tasks(7)
    gap = id_of("Task 3")
    services.task_delete(task_id=gap)
    older = f"/?before={id_of('Task 5')}"
    assert names(Client().get(older)) == ["Task 4", "Task 2", "Task 1"]
    # Ids are handed out before commit, so two adds can commit out of order: this one commits
    # after Task 7 with an id below Task 4's, so it lands on an older page (the trigger moves their version).
    with transaction.atomic() if in_a_transaction else contextlib.nullcontext():
        Task.objects.create(id=gap, name="Late")
        invalidation.list_changed()
    assert names(Client().get(older)) == ["Task 4", "Late", "Task 2"]


@pytest.mark.gunicorn
def test_two_instances_count_the_same_after_adds_and_deletes_on_either(instances):
    first, second = instances()
    writers = [Visitor(first.port), Visitor(second.port)]
    for n in range(6):
        writer = writers[n % 2]
        writer.get("/")
        assert writer.post("/add", {"name": f"Counted {n}"}).status == 302
    for writer in writers:
        page = writer.get("/").text
        doomed = re.search(r'name="id" value="(\d+)"', page).group(1)
        assert writer.post("/remove", {"id": doomed}).status == 302
    for instance in (first, second):
        assert "(4, newest first)" in Visitor(instance.port).get("/").text


def walk_over_http(instance) -> list[str]:
    """Every task a new visitor sees following the Older links from the first page, in order."""
    shown, path = [], "/"
    while path:
        page = Visitor(instance.port).get(path).text
        shown += task_names(page)
        older = re.search(r'href="([^"]+)" rel="next">Older', page)
        path = older and older.group(1)
    return shown


@pytest.mark.gunicorn
@pytest.mark.parametrize("strategy", FRESH_AT_ONCE)
def test_a_write_through_one_instance_is_on_every_page_of_the_other_at_once(instances, strategy):
    first, second = instances(TASKLIST_PAGE_SIZE=3, TASKLIST_INVALIDATION=strategy)
    writer = Visitor(first.port)
    for n in range(8):
        assert writer.post("/add", {"name": f"{strategy} {n}"}).status == 302
    before = walk_over_http(second)  # every page now cached on the second instance's side
    assert before[:8] == [f"{strategy} {n}" for n in reversed(range(8))]
    doomed_id, doomed = next(iter(tasks_shown(writer.get("/?after=0").text).items()))  # on the oldest page
    assert writer.post("/remove", {"id": doomed_id}).status == 302
    after = walk_over_http(second)
    assert after == [name for name in before if name != doomed]
    writer.get("/")
    assert writer.post("/add", {"name": f"{strategy} newest"}).status == 302
    assert walk_over_http(second) == [f"{strategy} newest", *after]
