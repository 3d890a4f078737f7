"""The task list in a real browser: headless Chromium (Debian's) driven by Playwright.

The app runs under gunicorn on PostgreSQL and the SASL memcached, page caching on.
The test run saves the screenshots the README shows, in docs/screenshots/.
"""

import re

import pytest
from playwright.sync_api import expect, sync_playwright

from testsupport.gunicorn import REPO, GunicornInstance

pytestmark = pytest.mark.gunicorn

SCREENSHOTS = REPO / "docs" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def app(app_env):
    # The browser talks plain HTTP to 127.0.0.1, which it treats as a secure
    # context; HTTPS behind the proxy is covered by test_security.py.
    env = {**app_env, "DJANGO_SECURE_SSL_REDIRECT": "False", "TASKLIST_STATS_FLUSH_SECONDS": "0.5"}
    instance = GunicornInstance(env, workers=2).start()
    yield f"http://127.0.0.1:{instance.port}"
    instance.stop()


@pytest.fixture(scope="module")
def chromium():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def visit(chromium, app):
    """Open the list in a new browser context (a new visitor): visit(javascript=False, width=390)."""
    contexts = []

    def open_page(*, javascript=True, width=1000, height=800):
        context = chromium.new_context(java_script_enabled=javascript, viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.violations = []
        page.on("console", lambda message: page.violations.append(message.text) if message.type == "error" else None)
        page.goto(app + "/")
        return page

    yield open_page
    for context in contexts:
        context.close()


def add(page, name):
    page.get_by_label("Task name").fill(name)
    page.get_by_role("button", name="Add Task").click()


@pytest.mark.parametrize("javascript", [True, False], ids=["javascript-on", "javascript-off"])
def test_a_visitor_adds_and_deletes_a_task(visit, javascript):
    page = visit(javascript=javascript)
    name = f"Buy milk ({'js' if javascript else 'no js'})"
    add(page, name)
    expect(page.get_by_role("status")).to_have_text(f"Added “{name}”.")
    expect(page.get_by_role("cell", name=name, exact=True)).to_be_visible()

    page.get_by_role("button", name=f"Delete {name}").click()
    expect(page.get_by_role("status")).to_have_text(f"Deleted “{name}”.")
    expect(page.get_by_role("cell", name=name, exact=True)).to_have_count(0)
    assert page.violations == []


def test_the_list_page(visit):
    page = visit()
    for name in ["Walk the dog", "Water the plants", "Write the report"]:
        add(page, name)
    page.goto(page.url)
    expect(page.get_by_role("cell", name="Write the report", exact=True)).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "list.png", full_page=True)
    assert page.violations == [], "the page breaks its own Content-Security-Policy"


@pytest.mark.parametrize("javascript", [True, False], ids=["javascript-on", "javascript-off"])
def test_a_blank_name_shows_a_validation_message_and_keeps_the_list(visit, javascript):
    page = visit(javascript=javascript)
    add(page, "   ")
    expect(page.get_by_text("Enter a task name.")).to_be_visible()
    expect(page.get_by_label("Task name")).to_have_class("form-control is-invalid")
    if javascript:
        page.screenshot(path=SCREENSHOTS / "validation-error.png", full_page=True)


def test_the_page_fits_a_phone(visit):
    page = visit(width=390, height=844)
    add(page, "A task with a rather long name that has to wrap on a narrow phone screen " * 2)
    page.goto(page.url)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=SCREENSHOTS / "phone.png", full_page=True)


@pytest.mark.parametrize("width", [375, 1280])
def test_a_long_name_without_spaces_never_widens_the_page(visit, width):
    page = visit(width=width, height=800)
    name = "W" * 200  # the longest name allowed, one unbroken word of the widest letter

    def fits() -> bool:
        return page.evaluate("document.documentElement.scrollWidth") <= width

    add(page, name)
    expect(page.get_by_role("status")).to_have_text(f"Added “{name}”.")
    assert fits(), "the flash message"
    page.goto(page.url)
    expect(page.get_by_role("cell", name=name, exact=True)).to_be_visible()
    assert fits(), "the list"
    # One character too many: the browser's maxlength would stop a person, so lift it as a script could.
    page.locator("#id_name").evaluate("input => input.removeAttribute('maxlength')")
    add(page, name + "W")
    expect(page.get_by_text("A task name can be at most 200 characters (it has 201).")).to_be_visible()
    assert fits(), "the validation error"
    page.get_by_role("button", name=f"Delete {name}").first.click()
    expect(page.get_by_role("status")).to_have_text(f"Deleted “{name}”.")
    assert fits(), "the deletion message"


def test_two_visitors_never_see_each_others_messages_or_tokens(visit):
    alice, bob = visit(), visit()
    add(alice, "Alice's task")
    expect(alice.get_by_role("status")).to_have_text("Added “Alice's task”.")
    bob.goto(bob.url)
    expect(bob.get_by_role("cell", name="Alice's task", exact=True)).to_be_visible()
    expect(bob.get_by_role("status")).to_have_count(0)

    def tokens(page):
        return set(page.locator("input[name=csrfmiddlewaretoken]").evaluate_all("inputs => inputs.map(i => i.value)"))

    def csrf_cookie(page):
        return next(c["value"] for c in page.context.cookies() if c["name"] == "__Host-csrftoken")

    assert len(tokens(alice)) == len(tokens(bob)) == 1
    assert tokens(alice) != tokens(bob)
    assert csrf_cookie(alice) != csrf_cookie(bob)
    # Bob's page, though served from the page cache, works for Bob.
    bob.get_by_role("button", name="Delete Alice's task").click()
    expect(bob.get_by_role("status")).to_have_text("Deleted “Alice's task”.")


def test_the_admin_login_page_loads_within_the_policy(visit, app):
    page = visit()
    page.goto(app + "/admin/login/")
    expect(page.get_by_label("Username")).to_be_visible()
    assert page.violations == []


def test_the_cache_dashboard(visit, app, app_env):
    from testsupport.gunicorn import create_staff_user

    create_staff_user(app_env, "dashboard", "a-long-password-123")
    page = visit()
    for name in ["Walk the dog", "Water the plants"]:
        add(page, name)
    for _ in range(5):
        page.goto(app + "/")
    page.wait_for_timeout(1500)  # the workers flush their counters and take a sample every 0.5 s here
    page.goto(app + "/stats/")
    page.get_by_label("Username").fill("dashboard")
    page.get_by_label("Password").fill("a-long-password-123")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Cache statistics")).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("Hit rate"))).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "stats.png", full_page=True)
    assert page.violations == []
