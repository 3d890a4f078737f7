"""Bad input gets a clear 4xx answer, never a 500, and changes nothing stored."""

import pytest
from django.core.exceptions import ValidationError

from mc_tasklist import services
from mc_tasklist.models import Task

pytestmark = [pytest.mark.fast, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def existing(db):
    return Task.objects.create(name="Keep me")


def assert_nothing_changed(existing):
    assert list(Task.objects.values_list("id", "name")) == [(existing.id, "Keep me")]


# Every name a task may not have, and what the person is told: the same through the form, the admin
# (test_admin.py) and the services.
BAD_NAMES = [
    ("", "Enter a task name."),
    ("   \t ", "Enter a task name."),
    ("x" * 201, "A task name can be at most 200 characters (it has 201)."),
    ("bad\x00name", "Null characters are not allowed."),
    ("report\u202etxt.exe", "cannot contain control characters or text-direction marks (it has U+202E)."),
    ("isolate \u2066this", "text-direction marks (it has U+2066)."),
    ("bell\x07", "cannot contain control characters or text-direction marks (it has U+0007)."),
    ("two\nlines", "(it has U+000A)."),
    ("escape \x1b[31mred", "(it has U+001B)."),
    ("\u200b\u200b\u200b", "Enter a task name: this one has no visible character."),
    ("\u200d\ufeff\u2060", "Enter a task name: this one has no visible character."),
    ("\u0301", "Enter a task name: this one has no visible character."),
]


@pytest.mark.parametrize(("name", "message"), BAD_NAMES)
def test_a_bad_name_is_refused_with_a_message_on_the_page(browser, existing, name, message):
    response = browser.add(name)
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page
    assert "Keep me" in page, "the list is still shown"
    assert_nothing_changed(existing)


@pytest.mark.parametrize(
    "name",
    ["Café ☕", "\U0001f468\u200d\U0001f469\u200d\U0001f467 family", "शुक्रवार", "עברית and English", "co\u00adoperate"],
)
def test_names_in_any_script_with_joiners_and_emoji_are_stored_as_typed(browser, name):
    assert browser.add(name).status_code == 302
    assert Task.objects.get().name == name


def test_a_refused_name_is_kept_in_the_form_so_nothing_typed_is_lost(browser, existing):
    response = browser.add("y" * 250)
    assert 'value="' + "y" * 250 + '"' in response.content.decode()


def test_a_name_of_exactly_the_maximum_length_is_accepted(browser):
    assert browser.add("z" * 200).status_code == 302
    assert Task.objects.get().name == "z" * 200


def test_a_missing_name_field_is_refused(browser, existing):
    response = browser.submit("/add", {})
    assert response.status_code == 400
    assert_nothing_changed(existing)


@pytest.mark.parametrize("task_id", ["abc", "0", "-3", "1.5", "9" * 30, str(2**63), "1; DROP TABLE"])
def test_an_id_that_is_not_a_positive_integer_in_range_is_refused(browser, existing, task_id):
    response = browser.remove(task_id)
    assert response.status_code == 400
    assert "That is not a task id." in response.content.decode()
    assert_nothing_changed(existing)


@pytest.mark.parametrize("form", [{}, {"id": ""}])
def test_a_missing_id_is_refused(browser, existing, form):
    response = browser.submit("/remove", form)
    assert response.status_code == 400
    assert "No task was given to delete." in response.content.decode()
    assert_nothing_changed(existing)


def test_deleting_a_task_that_does_not_exist_is_a_404_with_a_message(browser, existing):
    response = browser.remove(existing.id + 1000)
    assert response.status_code == 404
    assert "That task does not exist" in response.content.decode()
    assert_nothing_changed(existing)


def test_deleting_a_task_twice_is_a_404_the_second_time(browser):
    task = Task.objects.create(name="Once")
    assert browser.remove(task.id).status_code == 302
    assert browser.remove(task.id).status_code == 404


@pytest.mark.parametrize("path", ["/add", "/remove"])
def test_get_on_a_form_action_is_method_not_allowed(browser, existing, path):
    response = browser.get(path)
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert_nothing_changed(existing)


def test_an_unknown_host_is_a_400(browser):
    assert browser.get("/", HTTP_HOST="evil.example.com").status_code == 400


def test_an_unknown_page_is_a_404_page(browser):
    response = browser.get("/no-such-page")
    assert response.status_code == 404
    assert b"Not found" in response.content


@pytest.mark.parametrize(("name", "message"), BAD_NAMES)
def test_the_services_refuse_a_bad_name_from_any_caller(existing, name, message):
    """Whatever calls them (a view, the admin, a management command, a shell)."""
    with pytest.raises(ValidationError) as refused:
        services.task_create(name=name.strip())
    assert any(message in text for text in refused.value.messages), refused.value.messages
    with pytest.raises(ValidationError):
        services.task_update(task=existing, name=name.strip())
    existing.refresh_from_db()
    assert_nothing_changed(existing)
