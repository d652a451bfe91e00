"""SPEC §14: "log out everywhere" and a password change on /account end every session and
remember cookie of the user (and their sockets); logins last a bounded time."""
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import itsdangerous
import pytest
from flask.testing import FlaskClient

from jobsched.extensions import socketio
from tests.conftest import PASSWORD, csrf_token, make_user
from tests.web.page import page_of

NEW_PASSWORD = "battery-staple"


def logged_in(client: FlaskClient) -> bool:
    return client.get("/account").status_code == 200


def login(client: FlaskClient, password: str = PASSWORD, remember: bool = False):
    data = {"username": "alice", "password": password, "csrf_token": csrf_token(client)}
    if remember:
        data["remember"] = "y"
    return client.post("/auth/login", data=data)


def device(app, remember: bool = False) -> FlaskClient:
    """Another browser, logged in as alice."""
    client = app.test_client()
    assert login(client, remember=remember).status_code == 302
    return client


def remembered_only(app, browser: FlaskClient) -> FlaskClient:
    """A browser holding only `browser`'s remember cookie, as after a restart."""
    cookie = browser.get_cookie("remember_token")
    assert cookie is not None
    restarted = app.test_client()
    restarted.set_cookie("remember_token", cookie.value)
    return restarted


def change_password(client: FlaskClient, current: str = PASSWORD, new: str = NEW_PASSWORD,
                    confirm: str | None = None):
    return client.post("/account/password", data={
        "password-current": current, "password-password": new,
        "password-confirm": new if confirm is None else confirm,
        "password-csrf_token": csrf_token(client, "/account")})


@pytest.fixture
def alice(app) -> None:
    make_user(app, "alice")


def test_log_out_everywhere_ends_every_session_and_remember_cookie(app, alice):
    here, phone = device(app), device(app, remember=True)
    assert logged_in(remembered_only(app, phone))  # the cookie works until then
    response = here.post("/account/logout-everywhere",
                         data={"csrf_token": csrf_token(here, "/account")})
    assert response.status_code == 302 and response.headers["Location"] == "/auth/login"
    assert "logged out on every device" in here.get("/auth/login").get_data(as_text=True)
    assert not logged_in(here)
    assert not logged_in(phone)
    assert not logged_in(remembered_only(app, phone))
    assert logged_in(device(app))  # logging in again works as before


def test_log_out_everywhere_needs_a_csrf_token(app, alice):
    here = device(app)
    assert here.post("/account/logout-everywhere").status_code == 400
    assert logged_in(here)


def test_log_out_everywhere_closes_every_session_socket_of_the_user(app, alice):
    here, phone = device(app), device(app)
    make_user(app, "bob")
    bob = app.test_client()
    bob.post("/auth/login", data={"username": "bob", "password": PASSWORD,
                                  "csrf_token": csrf_token(bob)})
    sockets = [socketio.test_client(app, flask_test_client=c) for c in (here, phone, bob)]
    assert all(s.is_connected() for s in sockets)
    here.post("/account/logout-everywhere", data={"csrf_token": csrf_token(here, "/account")})
    assert [s.is_connected() for s in sockets] == [False, False, True]
    assert not socketio.test_client(app, flask_test_client=phone).is_connected()
    sockets[2].disconnect()


def test_changing_the_password_logs_out_the_other_devices_only(app, alice):
    here, phone = device(app, remember=True), device(app, remember=True)
    remembered = remembered_only(app, phone)
    phone_socket = socketio.test_client(app, flask_test_client=phone)
    response = change_password(here)
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    assert "Password changed" in here.get("/account").get_data(as_text=True)
    assert logged_in(here)
    assert logged_in(remembered_only(app, here))  # this browser's new remember cookie
    assert not logged_in(phone) and not logged_in(remembered)
    assert not phone_socket.is_connected()
    assert login(app.test_client()).status_code == 200  # the old password is refused
    assert login(app.test_client(), NEW_PASSWORD).status_code == 302


@pytest.mark.parametrize("current, new, confirm, field, says", [
    ("wrong-horse", NEW_PASSWORD, None, "current", "not your current password"),
    ("", NEW_PASSWORD, None, "current", "Enter your current password."),
    (PASSWORD, "short", None, "password", "at least 8"),
    (PASSWORD, NEW_PASSWORD, "battery-stapel", "confirm", "do not match"),
    (PASSWORD, "x" * 2000, None, "password", "at most 1,024"),
])
def test_a_refused_password_change_says_why_and_changes_nothing(app, alice, current, new,
                                                                 confirm, field, says):
    here, phone = device(app), device(app)
    response = change_password(here, current, new, confirm)
    assert response.status_code == 200
    assert says in page_of(response).text_of(f"password-{field}-error")
    assert logged_in(here) and logged_in(phone)
    assert login(app.test_client()).status_code == 302  # still the old password


def test_changing_the_password_needs_a_csrf_token(app, alice):
    here = device(app)
    response = here.post("/account/password", data={
        "password-current": PASSWORD, "password-password": NEW_PASSWORD,
        "password-confirm": NEW_PASSWORD})
    assert response.status_code == 400
    assert login(app.test_client()).status_code == 302


def test_guessing_the_current_password_spends_the_login_budget(app, alice):
    here = device(app)
    for _ in range(10):
        assert change_password(here, current="wrong-horse").status_code == 200
    blocked = change_password(here)  # even the right one, until the minute is over
    assert blocked.status_code == 429
    assert "Too many failed logins" in page_of(blocked).text_of("password-current-error")
    assert login(app.test_client()).status_code == 429  # the same budget
    assert logged_in(here)


def test_a_session_ends_after_its_lifetime(app, alice, monkeypatch):
    """Flask refuses a session cookie signed longer ago than the lifetime (12 h)."""
    here = device(app)
    assert app.permanent_session_lifetime == timedelta(hours=12)
    later = int(time.time() + timedelta(hours=12, minutes=1).total_seconds())
    monkeypatch.setattr(itsdangerous.TimestampSigner, "get_timestamp", lambda self: later)
    assert not logged_in(here)


def test_a_remember_cookie_lasts_two_weeks(app, alice):
    phone = device(app, remember=True)
    cookie = phone.get_cookie("remember_token")
    expected = datetime.now(UTC) + timedelta(days=14)
    assert abs((cookie.expires - expected).total_seconds()) < 60


def test_a_cookie_from_before_session_versions_no_longer_logs_in(app, alice):
    """Cookies naming the bare user id (as before) are refused: users log in once again."""
    here = device(app)
    with here.session_transaction() as session:
        session["_user_id"] = session["_user_id"].split(":")[0]
    assert not logged_in(here)
