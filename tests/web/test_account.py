"""/account: API tokens created (shown once), listed, revoked; how a token authenticates."""
from __future__ import annotations

import hashlib
import re

import pytest
from flask import Flask, jsonify
from flask_login import current_user, login_required
from sqlalchemy import select

from jobsched.extensions import db
from jobsched.models import ApiToken
from tests.conftest import csrf_token, make_token, make_user
from tests.web.page import page_of

SECRET_RE = re.compile(r"js_[A-Za-z0-9_-]{40,}")
WHOAMI = "/jobs/api/test-whoami"


@pytest.fixture
def whoami(app: Flask) -> str:
    """A login-protected API-side route that knows nothing but the authenticated user, so
    token authentication is tested on its own, whatever the real API does."""
    @login_required
    def view():
        return jsonify(username=current_user.username)

    app.add_url_rule(WHOAMI, "test_whoami", view)
    return WHOAMI


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def create_token(client, name: str = "laptop"):
    return client.post("/account/tokens",
                       data={"name": name, "csrf_token": csrf_token(client, "/account")})


def revoke(client, token_id: int):
    return client.post(f"/account/tokens/{token_id}/revoke",
                       data={"csrf_token": csrf_token(client, "/account")})


def stored_tokens(app: Flask) -> list[ApiToken]:
    with app.app_context():
        tokens = list(db.session.scalars(select(ApiToken).order_by(ApiToken.id)))
        db.session.expunge_all()
        return tokens


def test_account_page_needs_login(app, client):
    response = client.get("/account")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login?next=")


def test_account_page_shows_the_profile_and_no_tokens_yet(app, client, auth):
    auth.register("alice", email="alice@example.com")
    response = client.get("/account")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "alice@example.com" in html and "Administrator" in html
    assert "You have no API tokens yet." in html


def test_new_token_is_shown_once_and_stored_hashed(app, client, auth):
    auth.register("alice")
    response = create_token(client, "ci runner")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = page_of(response)
    secret = page.text_of("new-token")
    assert SECRET_RE.fullmatch(secret)
    assert page.all("button", **{"data-copy-target": "#new-token"})
    [token] = stored_tokens(app)
    assert token.name == "ci runner"
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in (token.token_hash, token.prefix) and secret.startswith(token.prefix)
    again = client.get("/account").get_data(as_text=True)
    assert secret not in again  # never shown again
    assert f"{token.prefix}…" in again and "ci runner" in again


def test_token_list_shows_only_your_own_tokens(app, client, auth):
    make_user(app, "bob")
    bob_secret = make_token(app, "bob")
    auth.register("alice")
    create_token(client, "mine")
    html = client.get("/account").get_data(as_text=True)
    assert "mine" in html
    assert bob_secret[:10] not in html


def test_token_name_is_checked_inline(app, client, auth):
    auth.register("alice")
    page = page_of(create_token(client, "x" * 101))
    assert page.text_of("name-error") == "Use at most 100 characters."
    assert page.all("code", id="new-token") == []
    assert stored_tokens(app) == []


def test_token_authenticates_api_calls(app, client, whoami):
    make_user(app, "alice")
    secret = make_token(app, "alice")
    response = app.test_client().get(whoami, headers=bearer(secret))
    assert response.status_code == 200
    assert response.get_json() == {"username": "alice"}
    [token] = stored_tokens(app)
    assert token.last_used_at is not None


@pytest.mark.parametrize("header", [
    "Bearer js_not-a-real-token", "Bearer ", "Basic YWxpY2U6cGFzc3dvcmQ=", "js_bare-token",
])
def test_bad_or_missing_token_gets_401_json(app, whoami, header):
    make_user(app, "alice")
    response = app.test_client().get(whoami, headers={"Authorization": header})
    assert response.status_code == 401
    assert response.is_json and "Bearer" in response.get_json()["message"]


def test_revoked_token_gets_401(app, client, auth, whoami):
    auth.register("alice")
    secret = page_of(create_token(client)).text_of("new-token")
    [token] = stored_tokens(app)
    response = revoke(client, token.id)
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    html = client.get("/account").get_data(as_text=True)
    assert "Token revoked" in html and "revoked" in html
    api = app.test_client()
    assert api.get(whoami, headers=bearer(secret)).status_code == 401
    assert revoke(client, token.id).status_code == 404  # already revoked


def test_nobody_can_revoke_another_users_token(app, client, auth, whoami):
    make_user(app, "bob")
    bob_secret = make_token(app, "bob")
    [bob_token] = stored_tokens(app)
    auth.register("alice")
    response = revoke(client, bob_token.id)
    assert response.status_code == 404
    assert stored_tokens(app)[0].revoked_at is None
    assert app.test_client().get(whoami, headers=bearer(bob_secret)).status_code == 200


def test_revoking_needs_a_csrf_token(app, client, auth, whoami):
    auth.register("alice")
    secret = page_of(create_token(client)).text_of("new-token")
    [token] = stored_tokens(app)
    assert client.post(f"/account/tokens/{token.id}/revoke").status_code == 400
    assert app.test_client().get(whoami, headers=bearer(secret)).status_code == 200


def test_creating_a_token_needs_a_csrf_token(app, client, auth):
    auth.register("alice")
    assert client.post("/account/tokens", data={"name": "x"}).status_code == 400
    assert stored_tokens(app) == []


def test_a_token_does_not_open_the_pages(app):
    """Tokens are for the API: with one alone, /account (and minting more tokens) stays shut."""
    make_user(app, "alice")
    secret = make_token(app, "alice")
    browser = app.test_client()
    response = browser.get("/account", headers=bearer(secret))
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
    assert browser.get("/", headers=bearer(secret)).status_code == 302
    assert browser.get("/account").status_code == 302  # and no session was started
