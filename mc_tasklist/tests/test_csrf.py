"""CSRF protection stays on, and cached pages still give each visitor their own token."""

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client

from mc_tasklist.caching import keys
from mc_tasklist.caching.list_version import list_versions
from mc_tasklist.models import Task
from mc_tasklist.paging import FIRST

pytestmark = [pytest.mark.fast, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("path", ["/add", "/remove"])
def test_a_post_without_a_token_is_forbidden(path):
    task = Task.objects.create(name="Safe")
    response = Client(enforce_csrf_checks=True).post(path, {"name": "x", "id": task.id})
    assert response.status_code == 403
    assert b"This form has expired" in response.content
    assert list(Task.objects.values_list("name", flat=True)) == ["Safe"]


def test_a_token_from_another_visitor_is_forbidden(browser, other_browser):
    stolen = other_browser.token()
    browser.get("/")
    response = browser.post("/add", {"csrfmiddlewaretoken": stolen, "name": "x"})
    assert response.status_code == 403
    assert not Task.objects.exists()


def test_a_plain_form_post_with_the_page_token_works_without_javascript(browser):
    assert browser.add("No JS needed").status_code == 302
    assert Task.objects.get().name == "No JS needed"


def test_the_delete_form_in_a_cached_row_carries_the_visitors_token(browser, other_browser):
    task = Task.objects.create(name="Row")
    other_browser.get("/")  # fills the page and fragment caches
    page = browser.get("/")
    assert page["X-Cache"].startswith(("page=hit", "page=process-hit"))
    response = browser.post("/remove", {"csrfmiddlewaretoken": caching_token(page), "id": task.id})
    assert response.status_code == 302


def caching_token(response) -> str:
    from testsupport.pages import csrf_tokens

    tokens = set(csrf_tokens(response.content.decode()))
    assert len(tokens) == 1, "every form on a page carries the same token"
    return tokens.pop()


def test_two_visitors_of_one_cached_page_never_share_a_token_or_cookie(browser, other_browser):
    Task.objects.create(name="Shared page")
    first = browser.get("/")
    second = other_browser.get("/")
    assert second["X-Cache"].startswith(("page=hit", "page=process-hit"))
    assert browser.cookies[settings.CSRF_COOKIE_NAME].value != other_browser.cookies[settings.CSRF_COOKIE_NAME].value
    assert caching_token(first) != caching_token(second)
    # Each token belongs to its own visitor: it works for them and only them.
    assert browser.post("/add", {"csrfmiddlewaretoken": caching_token(first), "name": "a"}).status_code == 302
    assert other_browser.post("/add", {"csrfmiddlewaretoken": caching_token(first), "name": "b"}).status_code == 403


def test_the_cached_page_holds_no_token_and_no_message(browser):
    browser.add("Secret message")
    assert "Added" in browser.get("/").content.decode()  # the message, put into the shared page
    _, body = cache.get(keys.page_key(FIRST, list_versions.current().list))
    stored = body.decode()
    assert "Secret message" in stored
    assert "Added" not in stored
    assert stored.count(str(caching_placeholder())) == stored.count("csrfmiddlewaretoken")
    assert browser.cookies[settings.CSRF_COOKIE_NAME].value not in stored


def caching_placeholder():
    from mc_tasklist.rendering import CSRF_PLACEHOLDER

    return CSRF_PLACEHOLDER
