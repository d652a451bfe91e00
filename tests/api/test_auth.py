"""Who may call what: tokens, sessions with CSRF, and per-user isolation on every endpoint."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from jobsched.auth.tokens import hash_token, revoke_token
from jobsched.extensions import db
from jobsched.models import ApiToken, User
from tests.api.conftest import ApiClient, job_row
from tests.conftest import PASSWORD, csrf_token

# --- the matrix: anonymous / owner / another user / admin x every endpoint -------------------

# (method, path, body, the job's state before); {id} is a job of alice's.
ENDPOINTS = {
    "list": ("GET", "/jobs/", None, "pending"),
    "create": ("POST", "/jobs/", {"name": "n"}, "pending"),
    "batch": ("POST", "/jobs/batch/", {"jobs": [{"name": "n"}]}, "pending"),
    "bulk": ("POST", "/jobs/bulk/", {"action": "cancel", "filter": {"q": "alices"}}, "pending"),
    "read": ("GET", "/jobs/{id}/", None, "pending"),
    "put": ("PUT", "/jobs/{id}/", {"name": "renamed"}, "pending"),
    "patch": ("PATCH", "/jobs/{id}/", {"name": "renamed"}, "pending"),
    "delete": ("DELETE", "/jobs/{id}/", None, "pending"),
    "cancel": ("POST", "/jobs/{id}/cancel/", None, "pending"),
    "retry": ("POST", "/jobs/{id}/retry/", None, "cancelled"),
    "executions": ("GET", "/jobs/{id}/executions/", None, "pending"),
    "stats": ("GET", "/jobs/stats/", None, "pending"),
    "tasks": ("GET", "/tasks/", None, "pending"),
}
OK = {"create": 201, "batch": 201, "delete": 204}
JOB_ENDPOINTS = {"read", "put", "patch", "delete", "cancel", "retry", "executions"}


def expected_status(who: str, endpoint: str) -> int:
    if who == "anon":
        return 401
    if who == "bob" and endpoint in JOB_ENDPOINTS:
        return 404  # another user's job is "missing"
    return OK.get(endpoint, 200)


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize("who", ["anon", "alice", "bob", "root"])
def test_isolation_matrix(request, app, alice, who, endpoint):
    method, path, body, state = ENDPOINTS[endpoint]
    job = alice.create(name="alices")
    if state == "cancelled":
        alice.post(f"/jobs/{job['id']}/cancel/")
    caller: ApiClient = request.getfixturevalue(who)
    status = expected_status(who, endpoint)
    answer = caller.call(method, path.format(id=job["id"]), status, json=body)
    if status in (401, 404):
        assert set(answer) == {"message", "errors"}
        after = job_row(app, job["id"])
        assert (after.name, after.status) == ("alices", state)  # untouched
    if status == 404:
        assert answer["message"] == caller.get("/jobs/987654/", 404)["message"].replace(
            "987654", str(job["id"]))
    if endpoint == "list" and status == 200:
        assert ("alices" in [j["name"] for j in answer["items"]]) is (who in ("alice", "root"))
    if endpoint == "bulk" and status == 200:  # another user's jobs are never matched
        assert answer["changed"] == (0 if who == "bob" else 1)
        assert job_row(app, job["id"]).status == ("pending" if who == "bob" else "cancelled")
    if endpoint == "stats" and status == 200:
        assert answer["total"] == (0 if who == "bob" else 1)


# The token operations: who may call them is tested on their own (below, test_tokens.py).
TOKEN_OPERATIONS = {("POST", "/auth/token"), ("GET", "/auth/tokens"),
                    ("DELETE", "/auth/tokens/{token_id}")}
# The per-user limits (admins only): anonymous, non-admin and admin in test_user_limits.py.
LIMITS_OPERATIONS = {("GET", "/users/{username}/limits"), ("PUT", "/users/{username}/limits")}
# Schedules (SPEC §12): anonymous, owner, another user and admin in test_schedules.py.
SCHEDULE_OPERATIONS = {
    ("GET", "/schedules/"), ("POST", "/schedules/"), ("GET", "/schedules/preview/"),
    ("GET", "/schedules/{schedule_id}/"), ("PUT", "/schedules/{schedule_id}/"),
    ("PATCH", "/schedules/{schedule_id}/"), ("DELETE", "/schedules/{schedule_id}/"),
    ("POST", "/schedules/{schedule_id}/pause/"), ("POST", "/schedules/{schedule_id}/resume/"),
    ("POST", "/schedules/{schedule_id}/run-now/"),
}


def test_every_documented_operation_is_in_the_matrix(alice):
    spec = alice.get("/swagger.json")
    documented = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops
                  if m != "parameters"}
    covered = {(m, p.replace("{id}", "{job_id}")) for m, p, _, _ in ENDPOINTS.values()}
    assert documented == covered | TOKEN_OPERATIONS | LIMITS_OPERATIONS | SCHEDULE_OPERATIONS


# --- tokens -------------------------------------------------------------------------------

def token_request(app, address="127.0.0.1", **body):
    return app.test_client().post("/jobs/api/auth/token", json=body,
                                  environ_base={"REMOTE_ADDR": address})


def test_a_token_is_issued_for_good_credentials_and_works(app, accounts):
    response = token_request(app, username="ALICE", password=PASSWORD, name="laptop")
    assert response.status_code == 201 and response.mimetype == "application/json"
    token = response.get_json()["token"]
    ApiClient(app.test_client(), token).create(name="via token")
    with app.app_context():
        stored = db.session.scalar(select(ApiToken).where(ApiToken.name == "laptop"))
        assert stored.token_hash == hash_token(token) and token not in stored.token_hash
        assert stored.user.username == "alice"


@pytest.mark.parametrize("body, status", [
    ({"username": "alice", "password": "wrong-password"}, 401),
    ({"username": "nobody", "password": PASSWORD}, 401),
    ({"username": "a\x00b", "password": PASSWORD}, 400),
    ({"username": "alice"}, 400),
    ({"username": "alice", "password": PASSWORD, "admin": True}, 400),
    ({"username": 1, "password": PASSWORD}, 400),
    ({"username": "alice", "password": "\ud800"}, 400),
    ({"username": "alice", "password": PASSWORD, "name": "a\x00b"}, 400),
])
def test_bad_token_requests(app, accounts, body, status):
    response = token_request(app, **body)
    assert response.status_code == status, response.get_data(as_text=True)
    assert set(response.get_json()) == {"message", "errors"}


def test_a_token_request_must_be_json(app, accounts):
    response = app.test_client().post("/jobs/api/auth/token",
                                      data={"username": "alice", "password": PASSWORD})
    assert response.status_code == 415 and response.mimetype == "application/json"


def test_failed_token_requests_are_rate_limited_per_username_and_address(app, accounts):
    for _ in range(10):
        assert token_request(app, username="alice", password="wrong-password").status_code == 401
    blocked = token_request(app, username="Alice", password=PASSWORD)
    assert blocked.status_code == 429 and blocked.mimetype == "application/json"
    assert "Wait a minute" in blocked.get_json()["message"]
    assert token_request(app, username="bob", password=PASSWORD).status_code == 201
    assert token_request(app, address="10.1.1.1", username="alice",
                         password=PASSWORD).status_code == 201


def test_successful_token_requests_do_not_count(app, accounts):
    for _ in range(12):
        assert token_request(app, username="alice", password=PASSWORD).status_code == 201
    assert token_request(app, username="alice", password="wrong-password").status_code == 401


@pytest.mark.parametrize("header", ["Bearer js_not-a-token", "Bearer ", "Basic YWxpY2U6eA==",
                                    "Token abc"])
def test_bad_authorization_headers_are_401(app, accounts, header):
    anon = ApiClient(app.test_client(), headers={"Authorization": header})
    answer = anon.get("/jobs/", 401)
    assert anon.last.headers["WWW-Authenticate"] == "Bearer"
    assert answer["message"]


def test_a_revoked_token_is_401(app, accounts, alice):
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "alice"))
        token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
        assert revoke_token(db.session, user, token.id)
    assert "revoked" in alice.get("/jobs/", 401)["message"]


# --- browser sessions and CSRF ------------------------------------------------------------

@pytest.fixture
def browser(app, client, auth, accounts) -> ApiClient:
    """Alice logged in through the login form, calling the API with her session cookie."""
    assert auth.login("alice").status_code == 302
    return ApiClient(client)


def page_csrf(browser: ApiClient) -> str:
    return csrf_token(browser.client, "/")


def test_a_session_reads_without_a_csrf_token(browser):
    assert browser.get("/jobs/")["total"] == 0
    assert browser.get("/tasks/")["items"]


@pytest.mark.parametrize("token", [None, "", "forged"])
def test_a_session_change_without_a_valid_csrf_token_is_400(app, browser, alice, token):
    job = alice.create()
    headers = {} if token is None else {"X-CSRFToken": token}
    for method, path, body in [("POST", "/jobs/", {"name": "x"}),
                               ("PATCH", f"/jobs/{job['id']}/", {"name": "x"}),
                               ("POST", f"/jobs/{job['id']}/cancel/", None),
                               ("DELETE", f"/jobs/{job['id']}/", None)]:
        answer = browser.call(method, path, 400, json=body, headers=headers)
        assert "CSRF" in answer["message"]
    after = job_row(app, job["id"])
    assert (after.name, after.status) == ("job", "pending")
    assert alice.get("/jobs/")["total"] == 1


def test_a_session_change_with_the_pages_csrf_token_works(browser):
    headers = {"X-CSRFToken": page_csrf(browser)}
    job = browser.post("/jobs/", 201, json={"name": "from the page"}, headers=headers)
    assert job["owner"] == "alice"
    browser.post(f"/jobs/{job['id']}/cancel/", headers=headers)
    browser.delete(f"/jobs/{job['id']}/", headers=headers)


def test_a_token_call_needs_no_csrf_token_and_a_token_overrides_the_session(app, browser,
                                                                            accounts):
    assert browser.post("/jobs/", 201, json={"name": "t"},
                        headers={"Authorization": f"Bearer {accounts['bob']}"})["owner"] == "bob"
    browser.get("/jobs/", 401, headers={"Authorization": "Bearer js_wrong"})


@pytest.mark.parametrize("uses", [1, 2], ids=["first use (records it)", "later use"])
def test_a_tokens_user_is_usable_after_its_session_is_gone(app, accounts, uses):
    """A Socket.IO connect authenticates with a token, then removes the session before it
    reads the user's rooms."""
    from jobsched.auth.tokens import user_for_token

    with app.app_context():
        for _ in range(uses):
            user = user_for_token(db.session, accounts["alice"])
            db.session.remove()
        assert (user.username, user.is_admin) == ("alice", False)
