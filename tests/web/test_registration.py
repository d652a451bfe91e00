"""SPEC §14: the first account is admin exactly once, even when registrations race; and
JOBSCHED_REGISTRATION=closed leaves account making to `flask create-user`."""
from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import select

from jobsched.extensions import db
from jobsched.models import User
from tests.conftest import PASSWORD, csrf_token
from tests.helpers import served

RACERS = 8
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def accounts(app) -> dict[str, bool]:
    """username -> is_admin, for every account."""
    with app.app_context():
        return {u.username: u.is_admin for u in db.session.scalars(select(User))}


def registrar(base: str, name: str, start: threading.Barrier):
    """A browser that opens the form, then registers `name` when every racer is ready."""
    page = requests.get(f"{base}/auth/register", timeout=10)
    token = CSRF_RE.search(page.text).group(1)
    cookie = "; ".join(f"{k}={v}" for k, v in page.cookies.get_dict().items())

    def register() -> int:
        start.wait(10)
        return requests.post(f"{base}/auth/register", timeout=30, allow_redirects=False,
                             headers={"Cookie": cookie},
                             data={"username": name, "email": "", "password": PASSWORD,
                                   "confirm": PASSWORD, "csrf_token": token}).status_code

    return register


def test_concurrent_first_registrations_make_exactly_one_admin(app):
    start = threading.Barrier(RACERS)
    with served(app) as base:
        racers = [registrar(base, f"racer{i}", start) for i in range(RACERS)]
        with ThreadPoolExecutor(RACERS) as pool:
            statuses = list(pool.map(lambda register: register(), racers))
    assert statuses == [302] * RACERS
    made = accounts(app)
    assert len(made) == RACERS
    assert sum(made.values()) == 1, made


@pytest.mark.parametrize("app_overrides", [{"JOBSCHED_REGISTRATION": "closed"}])
def test_closed_registration_answers_403_and_says_how_accounts_are_made(app, client):
    page = client.get("/auth/register")
    assert page.status_code == 403
    text = " ".join(page.get_data(as_text=True).split())
    assert "Registration is closed" in text and "flask --app jobsched create-user" in text
    token = csrf_token(client, "/auth/login")
    posted = client.post("/auth/register", data={
        "username": "mallory", "email": "", "password": PASSWORD, "confirm": PASSWORD,
        "csrf_token": token})
    assert posted.status_code == 403
    assert accounts(app) == {}


@pytest.mark.parametrize("app_overrides", [{"JOBSCHED_REGISTRATION": "closed"}])
def test_closed_registration_hides_the_register_links(app, client):
    html = client.get("/auth/login").get_data(as_text=True)
    assert "/auth/register" not in html


def test_open_registration_shows_the_register_links(app, client):
    html = client.get("/auth/login").get_data(as_text=True)
    assert html.count('href="/auth/register"') == 2  # the navbar's and the form's


@pytest.mark.parametrize("app_overrides", [{"JOBSCHED_REGISTRATION": "closed"}])
def test_closed_registration_still_lets_create_user_make_the_first_admin(app, runner):
    result = runner.invoke(args=["create-user", "root", "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    assert accounts(app) == {"root": True}
