"""SPEC §14: scripts list and revoke their own tokens; a revoked token's sockets close."""
from __future__ import annotations

import pytest

from jobsched.extensions import socketio
from tests.api.conftest import ApiClient
from tests.conftest import csrf_token, make_token

FIELDS = {"id", "name", "created_at", "last_used_at"}


def test_a_user_lists_only_their_own_live_tokens_without_secrets(app, accounts, alice):
    second = make_token(app, "alice")
    items = alice.get("/auth/tokens")["items"]
    assert [set(item) for item in items] == [FIELDS, FIELDS]
    assert items[0]["id"] > items[1]["id"]  # newest first
    assert items[1]["last_used_at"] is not None  # alice's fixture token, just used
    assert items[0]["created_at"].endswith("+00:00")
    body = alice.last.get_data(as_text=True)
    assert accounts["alice"] not in body and second not in body
    assert accounts["alice"][:10] not in body  # not even the prefix
    with_second = ApiClient(app.test_client(), second)
    with_second.delete(f"/auth/tokens/{items[1]['id']}")
    assert [item["id"] for item in with_second.get("/auth/tokens")["items"]] == [items[0]["id"]]


def test_revoking_a_token_refuses_it_at_once(app, accounts, alice):
    [token] = alice.get("/auth/tokens")["items"]
    assert alice.delete(f"/auth/tokens/{token['id']}") is None
    assert "revoked" in alice.get("/auth/tokens", 401)["message"]
    other = ApiClient(app.test_client(), make_token(app, "alice"))
    assert other.delete(f"/auth/tokens/{token['id']}", 404)["message"]  # already revoked


def test_another_users_token_is_not_found_and_keeps_working(app, accounts, alice, bob):
    [bobs] = bob.get("/auth/tokens")["items"]
    answer = alice.delete(f"/auth/tokens/{bobs['id']}", 404)
    assert set(answer) == {"message", "errors"}
    assert alice.delete("/auth/tokens/987654", 404)["message"] == answer["message"]
    assert bob.get("/auth/tokens")["items"] == [bobs]


@pytest.mark.parametrize("method, path", [("GET", "/auth/tokens"),
                                          ("DELETE", "/auth/tokens/1")])
def test_the_token_endpoints_need_authentication(app, accounts, anon, method, path):
    assert set(anon.call(method, path, 401)) == {"message", "errors"}


def test_a_session_revokes_by_api_only_with_the_csrf_header(app, client, auth, accounts):
    assert auth.login("alice").status_code == 302
    browser = ApiClient(client)
    [token] = browser.get("/auth/tokens")["items"]
    browser.delete(f"/auth/tokens/{token['id']}", 400)
    browser.delete(f"/auth/tokens/{token['id']}",
                   headers={"X-CSRFToken": csrf_token(client, "/")})
    assert browser.get("/auth/tokens")["items"] == []


@pytest.mark.parametrize("revoke_by", ["api", "account page"])
def test_revoking_a_token_closes_the_sockets_opened_with_it_only(app, client, auth, accounts,
                                                                 revoke_by):
    kept = make_token(app, "alice")
    doomed = socketio.test_client(app, auth={"token": accounts["alice"]})
    other = socketio.test_client(app, auth={"token": kept})
    assert doomed.is_connected() and other.is_connected()
    alice = ApiClient(app.test_client(), kept)
    doomed_id = min(item["id"] for item in alice.get("/auth/tokens")["items"])
    if revoke_by == "api":
        alice.delete(f"/auth/tokens/{doomed_id}")
    else:
        assert auth.login("alice").status_code == 302
        assert client.post(f"/account/tokens/{doomed_id}/revoke", data={
            "csrf_token": csrf_token(client, "/account")}).status_code == 302
    assert not doomed.is_connected()
    assert other.is_connected()
    other.disconnect()
