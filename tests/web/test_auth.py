"""Register, log in, log out through the real forms (SPEC §3)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from jobsched.auth.service import find_user
from jobsched.auth.views import safe_next
from jobsched.extensions import db
from jobsched.models import User
from tests.conftest import PASSWORD, csrf_token, make_user
from tests.conftest import AuthActions as AuthActionsFor
from tests.web.page import page_of


def register_form(client, **fields):
    data = {"username": "alice", "email": "alice@example.com", "password": PASSWORD,
            "confirm": PASSWORD, **fields}
    data["csrf_token"] = csrf_token(client, "/auth/register")
    return client.post("/auth/register", data=data)


def login_form(client, username="alice", password=PASSWORD, address="127.0.0.1", **extra):
    data = {"username": username, "password": password, **extra}
    data["csrf_token"] = csrf_token(client, "/auth/login")
    return client.post("/auth/login", data=data, environ_base={"REMOTE_ADDR": address})


def user_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(User.id)))


def logged_in_as(client) -> str | None:
    """The username in the user menu, or None when the dashboard sends us to log in."""
    response = client.get("/")
    if response.status_code == 302:
        return None
    return " ".join(page_of(response).by_id("user-menu").text.split()[3:]) or None


# --- registration -----------------------------------------------------------------------

def test_register_shows_every_field_error_inline(app, client):
    response = register_form(client, username="a b", email="not-an-email", password="short",
                             confirm="different")
    assert response.status_code == 200
    page = page_of(response)
    assert "letters, digits" in page.text_of("username-error")
    assert "email address" in page.text_of("email-error")
    assert "at least 8 characters" in page.text_of("password-error")
    assert "do not match" in page.text_of("confirm-error")
    for name in ("username", "email", "password", "confirm"):
        field = page.by_id(name)
        assert field.attrs["aria-invalid"] == "true"
        assert f"{name}-error" in field.attrs["aria-describedby"].split()
        assert "is-invalid" in field.attrs["class"]
    assert page.by_id("username").attrs["value"] == "a b"  # what was typed stays
    assert user_count(app) == 0


def test_register_requires_username_password_and_confirmation(app, client):
    page = page_of(register_form(client, username="", email="", password="", confirm=""))
    assert page.text_of("username-error") == "Choose a username."
    assert page.text_of("password-error") == "Choose a password."
    assert page.text_of("confirm-error") == "Type the password again."
    assert page.all("div", id="email-error") == []  # email is optional
    assert user_count(app) == 0


@pytest.mark.parametrize("username", ["ab", "x" * 33, "alice!", "al ice", "ålice"])
def test_register_rejects_bad_usernames(app, client, username):
    page = page_of(register_form(client, username=username))
    assert "3–32 letters, digits" in page.text_of("username-error")
    assert user_count(app) == 0


@pytest.mark.parametrize("username", ["abc", "x" * 32, "A.b_c-9"])
def test_register_accepts_usernames_at_the_limits(app, client, username):
    response = register_form(client, username=username, email="")
    assert response.status_code == 302
    assert user_count(app) == 1


def test_usernames_are_unique_whatever_their_case(app, client):
    make_user(app, "Alice")
    page = page_of(register_form(client, username="aLICE"))
    assert page.text_of("username-error") == "That username is taken."
    assert user_count(app) == 1


def test_first_account_is_admin_and_later_ones_are_not(app, client, auth):
    assert auth.register("first").headers["Location"] == "/"
    auth.logout()
    auth.register("second")
    with app.app_context():
        assert find_user(db.session, "first").is_admin is True
        assert find_user(db.session, "second").is_admin is False


def test_register_logs_the_new_user_in_with_a_welcome(client, auth):
    auth.register("alice")
    response = client.get("/")
    assert response.status_code == 200
    assert "Welcome, alice" in response.get_data(as_text=True)
    assert logged_in_as(client) == "alice admin"


def test_password_is_stored_only_as_a_salted_hash(app, auth):
    auth.register("alice")
    make_user(app, "bob", password=PASSWORD)
    with app.app_context():
        alice, bob = find_user(db.session, "alice"), find_user(db.session, "bob")
        assert PASSWORD not in alice.password_hash
        assert alice.password_hash != bob.password_hash  # same password, different salt
        assert alice.check_password(PASSWORD) and not alice.check_password("wrong-horse")


# --- login ------------------------------------------------------------------------------

def test_login_with_any_case_of_the_username(app, client):
    make_user(app, "Alice")
    response = login_form(client, "ALICE")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert logged_in_as(client) == "Alice"


@pytest.mark.parametrize("username, password", [("alice", "wrong-horse"), ("nobody", PASSWORD)])
def test_login_failure_says_so_without_revealing_which_part(app, client, username, password):
    make_user(app, "alice")
    response = login_form(client, username, password)
    assert response.status_code == 200
    page = page_of(response)
    alerts = [" ".join(a.text.split()) for a in page.all("div", role="alert")]
    assert alerts == ["Wrong username or password."]
    assert page.by_id("username").attrs["value"] == username
    assert logged_in_as(client) is None


def test_login_form_shows_missing_fields_inline(app, client):
    page = page_of(login_form(client, "", ""))
    assert page.text_of("username-error") == "Enter your username."
    assert page.text_of("password-error") == "Enter your password."


def test_login_is_rate_limited_after_ten_failures(app, client):
    make_user(app, "alice")
    for _ in range(10):
        assert login_form(client, "alice", "wrong-horse").status_code == 200
    refused = login_form(client, "alice", PASSWORD)  # even the right password now
    assert refused.status_code == 429
    assert "Too many failed logins" in refused.get_data(as_text=True)
    assert "Retry-After" in refused.headers
    assert logged_in_as(client) is None


def test_rate_limit_is_per_username_and_address(app, client):
    make_user(app, "alice")
    make_user(app, "bob")
    for _ in range(10):
        login_form(client, "alice", "wrong-horse")
    assert login_form(client, "ALICE", "wrong-horse").status_code == 429  # same name, any case
    assert login_form(client, "alice", PASSWORD, address="10.0.0.9").status_code == 302
    assert login_form(client, "bob", PASSWORD).status_code == 302


def test_successful_logins_do_not_count_towards_the_limit(app, client, auth):
    make_user(app, "alice")
    for _ in range(9):
        login_form(client, "alice", "wrong-horse")
    for _ in range(3):
        assert login_form(client, "alice", PASSWORD).status_code == 302
        auth.logout()
    assert login_form(client, "alice", "wrong-horse").status_code == 200  # the 10th failure
    assert login_form(client, "alice", "wrong-horse").status_code == 429


def test_viewing_the_login_page_is_never_rate_limited(app, client):
    make_user(app, "alice")
    for _ in range(11):
        login_form(client, "alice", "wrong-horse")
    assert client.get("/auth/login").status_code == 200


# --- redirects after login ----------------------------------------------------------------

@pytest.mark.parametrize("target", ["/account", "/jobs/7?tab=output", "/"])
def test_safe_next_keeps_paths_on_this_site(target):
    assert safe_next(target) == target


@pytest.mark.parametrize("target", [
    None, "", "//evil.com", "https://evil.com", "/\\evil.com", "\\\\evil.com", "/\t/evil.com",
    "/\n/evil.com", "javascript:alert(1)", "evil.com", "http:/evil.com", "/ /evil.com",
])
def test_safe_next_refuses_other_sites(target):
    assert safe_next(target) is None


def test_login_page_sends_the_user_back_where_they_were_going(app, client):
    make_user(app, "alice")
    bounced = client.get("/account")
    assert bounced.status_code == 302
    assert bounced.headers["Location"] == "/auth/login?next=/account"
    page = page_of(client.get(bounced.headers["Location"]))
    assert page.by_id("next").attrs["value"] == "/account"
    response = login_form(client, next="/account")
    assert response.headers["Location"] == "/account"


@pytest.mark.parametrize("target", ["//evil.com", "https://evil.com", "/\\evil.com"])
def test_login_ignores_next_pointing_elsewhere(app, client, target):
    make_user(app, "alice")
    assert page_of(client.get("/auth/login", query_string={"next": target})).by_id(
        "next").attrs["value"] == ""
    assert login_form(client, next=target).headers["Location"] == "/"
    data = {"username": "alice", "password": PASSWORD, "csrf_token": csrf_token(client)}
    response = client.post("/auth/login", query_string={"next": target}, data=data)
    assert response.headers["Location"] == "/"


# --- logout ---------------------------------------------------------------------------

def test_logout_is_post_only(app, client, auth):
    auth.register("alice")
    assert client.get("/auth/logout").status_code == 405
    assert logged_in_as(client) == "alice admin"
    response = auth.logout()
    assert response.status_code == 302 and response.headers["Location"] == "/auth/login"
    assert logged_in_as(client) is None
    assert "You are logged out." in client.get("/auth/login").get_data(as_text=True)


def test_logout_with_an_expired_session_still_lands_on_the_login_page(app, client):
    data = {"csrf_token": csrf_token(client, "/auth/login")}
    response = client.post("/auth/logout", data=data)
    assert response.status_code == 302 and response.headers["Location"] == "/auth/login"


# --- CSRF ---------------------------------------------------------------------------------

def test_register_without_csrf_token_is_refused_and_creates_nothing(app, client):
    response = client.post("/auth/register", data={
        "username": "alice", "email": "", "password": PASSWORD, "confirm": PASSWORD})
    assert response.status_code == 400
    assert "reload the page" in response.get_data(as_text=True)
    assert user_count(app) == 0


def test_login_with_a_forged_csrf_token_is_refused(app, client):
    make_user(app, "alice")
    client.get("/auth/login")
    response = client.post("/auth/login", data={
        "username": "alice", "password": PASSWORD, "csrf_token": "forged"})
    assert response.status_code == 400
    assert logged_in_as(client) is None


def test_logout_without_csrf_token_is_refused(app, client, auth):
    auth.register("alice")
    assert client.post("/auth/logout").status_code == 400
    assert logged_in_as(client) == "alice admin"


def test_csrf_token_from_another_session_is_refused(app, client, auth):
    other = app.test_client()
    foreign = csrf_token(other, "/auth/register")
    client.get("/auth/register")
    response = client.post("/auth/register", data={
        "username": "alice", "password": PASSWORD, "confirm": PASSWORD, "csrf_token": foreign})
    assert response.status_code == 400
    assert user_count(app) == 0


def test_logout_closes_the_live_connections_of_that_login_only(app, client, auth):
    """A socket keeps the session it connected with, so logging out must close it too."""
    from jobsched.extensions import socketio

    auth.register("alice")
    this_login = socketio.test_client(app, flask_test_client=client)
    other_device = app.test_client()
    AuthActionsFor(other_device).login("alice")
    other_login = socketio.test_client(app, flask_test_client=other_device)
    assert this_login.is_connected() and other_login.is_connected()
    auth.logout()
    assert not this_login.is_connected()
    assert other_login.is_connected()
    other_login.disconnect()
