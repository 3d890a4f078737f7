"""The task list as its users see it: list, add, remove, flash messages, admin."""

from wsgiref.util import setup_testing_defaults

import pytest
from django.contrib.auth.models import User
from django.core.wsgi import get_wsgi_application

from mc_tasklist.models import Task

pytestmark = [pytest.mark.fast, pytest.mark.django_db(transaction=True)]


def test_the_empty_list_says_so_and_offers_the_form(browser):
    response = browser.get("/")
    assert response.status_code == 200
    assert b"No tasks yet" in response.content
    assert b'name="name"' in response.content
    assert b'maxlength="200"' in response.content


def test_adding_a_task_redirects_to_the_list_which_shows_it_with_a_message(browser):
    response = browser.add("Buy milk")
    assert response.status_code == 302
    assert response["Location"] == "/"
    page = browser.get("/").content.decode()
    assert "Buy milk" in page
    assert "Added “Buy milk”." in page
    assert "Added" not in browser.get("/").content.decode(), "a flash message is shown once"


def test_a_name_is_stored_without_surrounding_whitespace(browser):
    browser.add("  Walk the dog \t")
    assert Task.objects.get().name == "Walk the dog"


def test_removing_a_task_redirects_to_the_list_without_it(browser):
    task = Task.objects.create(name="Water plants")
    response = browser.remove(task.id)
    assert response.status_code == 302
    page = browser.get("/").content.decode()
    assert "Deleted “Water plants”." in page
    assert "Water plants</td>" not in page
    assert not Task.objects.exists()


def test_names_are_html_escaped(browser):
    browser.add('<script>alert("x")</script>')
    page = browser.get("/").content.decode()
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page


def test_each_delete_button_names_its_task_for_screen_readers(browser):
    Task.objects.create(name="Call mum")
    assert b'aria-label="Delete Call mum"' in browser.get("/").content


def answer_over_wsgi(method: str) -> tuple[str, dict[str, str], bytes]:
    """What the server gets from Django (the test client drops a HEAD's body itself)."""
    environ = {"REQUEST_METHOD": method, "HTTP_HOST": "localhost", "HTTP_X_FORWARDED_PROTO": "https"}
    setup_testing_defaults(environ)
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer.update(status=status, headers=dict(headers))

    body = b"".join(get_wsgi_application()(environ, start_response))
    return answer["status"], answer["headers"], body


def test_head_is_answered_like_get():
    """The headers a GET gets, the GET's Content-Length among them, and no body."""
    get_status, get_headers, get_body = answer_over_wsgi("GET")
    head_status, head_headers, head_body = answer_over_wsgi("HEAD")
    assert head_status == get_status == "200 OK"
    assert head_body == b"" and get_body
    assert int(head_headers["Content-Length"]) == len(get_body)

    def lasting(headers):  # without those that differ by the moment or the visit
        return {name: value for name, value in headers.items() if name not in ("Expires", "X-Cache", "Set-Cookie")}

    assert lasting(head_headers) == lasting(get_headers)


def test_the_page_is_not_stored_by_browsers_or_proxies(browser):
    cache_control = browser.get("/")["Cache-Control"]
    assert "no-store" in cache_control
    assert "private" in cache_control


def test_static_files_are_served_by_the_app(browser):
    page = browser.get("/").content.decode()
    assert "cdn" not in page.lower()
    assert "/static/mc_tasklist/bootstrap." in page


def test_admin_lists_tasks_for_staff(browser):
    User.objects.create_superuser("admin", "admin@example.com", "a-long-password-123")
    Task.objects.create(name="From admin")
    assert browser.get("/admin/").status_code == 302
    browser.force_login(User.objects.get(username="admin"))
    response = browser.get("/admin/mc_tasklist/task/")
    assert response.status_code == 200
    assert b"From admin" in response.content


def test_a_task_renamed_in_the_admin_shows_its_new_name(browser, client):
    User.objects.create_superuser("admin", "admin@example.com", "a-long-password-123")
    task = Task.objects.create(name="Old name")
    assert b"Old name" in browser.get("/").content
    client.force_login(User.objects.get(username="admin"))
    response = client.post(f"/admin/mc_tasklist/task/{task.id}/change/", {"name": "New name"})
    assert response.status_code == 302
    page = browser.get("/").content.decode()
    assert "New name" in page
    assert "Old name" not in page
