"""Properties that hold for every input, checked over inputs hypothesis makes up.

Whatever a visitor sends as a task name, a task id or a page, the answer
is a page (never a 500), a refusal changes nothing, and an accepted write is on
the list the visitor is sent back to.
"""

import unicodedata
from urllib.parse import urlencode

import pytest
from django.http import QueryDict
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mc_tasklist import paging
from mc_tasklist.forms import MAX_TASK_ID
from mc_tasklist.models import DIRECTION_MARKS, Task, name_problem
from mc_tasklist.tests.browsing import Browser
from testsupport.pages import shows_name, task_names

pytestmark = [pytest.mark.fast, pytest.mark.django_db(transaction=True)]

# Each example reuses the test's database and cache; what it checks does not
# depend on what earlier examples left behind.
examples = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

REFUSALS = (
    "Enter a task name.",
    "A task name can be at most 200 characters",
    "Null characters are not allowed.",
    "cannot contain control characters or text-direction marks",
    "Enter a task name: this one has no visible character.",
)


def stored() -> list[tuple[int, str]]:
    return list(Task.objects.order_by("id").values_list("id", "name"))


def shows(page: str, name: str) -> bool:
    return shows_name(page, name)


@examples
@given(name=st.text(max_size=260))
def test_any_name_is_either_added_as_typed_or_refused_with_nothing_changed(name):
    browser = Browser()
    before = stored()
    response = browser.add(name)
    expected = name.strip()
    storable = expected and len(expected) <= Task.NAME_MAX_LENGTH and "\x00" not in name
    if storable and name_problem(expected) is None:
        assert response.status_code == 302
        added = Task.objects.latest("id")
        assert added.name == expected
        assert not any(unicodedata.category(c) == "Cc" or c in DIRECTION_MARKS for c in added.name)
        assert stored() == [*before, (added.id, expected)]
        assert shows(browser.get("/").content.decode(), expected), "the visitor's own write is on the list"
    else:
        assert response.status_code == 400
        page = response.content.decode()
        assert any(message in page for message in REFUSALS), "the page says what is wrong"
        assert stored() == before


@examples
@given(task_id=st.integers(min_value=-(2**70), max_value=2**70))
def test_any_integer_id_deletes_that_task_if_it_exists_and_nothing_else(task_id):
    browser = Browser()
    Task.objects.create(name="kept unless named")
    before = dict(stored())
    response = browser.remove(str(task_id))
    if task_id in before:
        assert response.status_code == 302
        assert dict(stored()) == {key: value for key, value in before.items() if key != task_id}
    else:
        assert response.status_code == (400 if not 1 <= task_id <= MAX_TASK_ID else 404)
        assert dict(stored()) == before


@examples
@given(task_id=st.text(max_size=40))
def test_any_text_as_an_id_is_answered_with_a_page_and_deletes_at_most_one_task(task_id):
    browser = Browser()
    Task.objects.create(name="kept unless named")
    before = stored()
    response = browser.remove(task_id)
    assert response.status_code in (302, 400, 404)
    assert len(stored()) == len(before) - (response.status_code == 302)
    if response.status_code != 302:
        page = response.content.decode()
        assert any(
            message in page for message in ("That is not a task id.", "That task does not exist", "No task was given")
        )


@given(kind=st.sampled_from(["page", "before", "after"]), value=st.text(max_size=30))
def test_a_page_parameter_is_always_a_page_or_an_old_numbered_link(kind, value):
    page = paging.requested(QueryDict(urlencode({kind: value})))
    assert page is None or (page.kind in ("first", "before", "after") and page.anchor >= 0)
    if page is None:
        assert kind == "page" and paging.requested_number(QueryDict(urlencode({kind: value}))) > 1


@given(number=st.integers())
def test_a_whole_number_anchor_is_that_anchor_or_the_first_page(number):
    page = paging.requested(QueryDict(urlencode({"before": str(number)})))
    assert page == (paging.before(number) if 1 <= number < 10**18 else paging.FIRST)


@examples
@given(
    kind=st.sampled_from(["page", "before", "after"]),
    value=st.one_of(st.text(max_size=30), st.integers(min_value=-5, max_value=40).map(str)),
)
def test_any_page_parameter_shows_a_full_page_of_the_list_at_most_two_redirects_away(kind, value, settings):
    settings.TASKLIST_PAGE_SIZE = 2
    assume("\x00" not in value)  # The test client cannot put a NUL in a URL; browsers send %00, tested below.
    if not Task.objects.exists():
        Task.objects.bulk_create(Task(name=f"task {n}") for n in range(5))
    response = Browser().get("/", {kind: value}, follow=True)
    assert response.status_code == 200
    assert len(response.redirect_chain) <= 2
    assert 1 <= len(task_names(response.content.decode())) <= 2


def test_a_nul_in_the_page_parameter_means_the_first_page(browser):
    assert browser.get("/?page=%00").status_code == 200
