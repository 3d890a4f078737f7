"""The admin holds tasks to the rules the public form does, with the same messages, over real HTTP.

gunicorn in production mode (PostgreSQL, SASL memcached) and a staff user who
logs in through the admin's login form.
"""

import html

import psycopg
import pytest

from mc_tasklist.tests.test_bad_input import BAD_NAMES
from testsupport.gunicorn import GunicornInstance, create_staff_user
from testsupport.http import Visitor, log_in

pytestmark = pytest.mark.gunicorn

ADD = "/admin/mc_tasklist/task/add/"


@pytest.fixture(scope="module")
def staff(app_env):
    env = {**app_env, "DJANGO_SECURE_SSL_REDIRECT": "False"}
    create_staff_user(env, "editor", "an-editors-password-42")
    instance = GunicornInstance(env, workers=1).start()
    visitor = Visitor(instance.port)
    log_in(visitor, "editor", "an-editors-password-42", next_path="/admin/")
    with psycopg.connect(app_env["DATABASE_URL"], autocommit=True) as database:
        visitor.database = database
        yield visitor
    instance.stop()


def submit(staff: Visitor, path: str, name: str):
    token = staff.request("GET", path).csrf_tokens()[0]
    return staff.request("POST", path, {"csrfmiddlewaretoken": token, "name": name, "_save": "Save"})


def stored(staff: Visitor) -> list[str]:
    return [name for (name,) in staff.database.execute("SELECT name FROM mc_tasklist_task ORDER BY id")]


@pytest.mark.parametrize(("name", "message"), BAD_NAMES)
def test_the_add_form_refuses_what_the_public_form_refuses(staff, name, message):
    before = stored(staff)
    response = submit(staff, ADD, name)
    assert response.status == 400
    assert message in html.unescape(response.text)
    assert stored(staff) == before


@pytest.mark.parametrize(("name", "message"), BAD_NAMES)
def test_the_change_form_refuses_it_too_and_keeps_the_name(staff, name, message):
    assert submit(staff, ADD, "Renamed in the admin, or not").status == 302
    (task_id,) = staff.database.execute("SELECT max(id) FROM mc_tasklist_task").fetchone()
    response = submit(staff, f"/admin/mc_tasklist/task/{task_id}/change/", name)
    assert response.status == 400
    assert message in html.unescape(response.text)
    assert stored(staff)[-1] == "Renamed in the admin, or not"


def test_a_good_name_is_stored_as_typed(staff):
    assert submit(staff, ADD, "Café ☕ from the admin").status == 302
    assert stored(staff)[-1] == "Café ☕ from the admin"
