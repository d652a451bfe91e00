"""Every error under /jobs/api is JSON {"message", "errors"}, in tests and in production."""
from __future__ import annotations

import json

import pytest
from sqlalchemy.exc import OperationalError, ProgrammingError

from jobsched.jobs import queries

pytestmark = pytest.mark.parametrize("app_overrides", [
    pytest.param({}, id="testing"),
    pytest.param({"TESTING": False}, id="production"),
])

MiB = 1024 * 1024


def assert_error(response, status: int) -> dict:
    body = response.get_data(as_text=True)
    assert response.status_code == status, body
    assert response.mimetype == "application/json", body
    answer = response.get_json()
    assert set(answer) == {"message", "errors"} and answer["message"], answer
    assert "did you mean" not in answer["message"].lower()
    return answer


@pytest.mark.parametrize("path", ["/jobs/api/nope", "/jobs/api/jobs/abc/",
                                  "/jobs/api/jobs/1/nope/", "/jobs/api/jobs/-1/",
                                  "/jobs/api/job/"])
def test_unknown_paths_are_json_404s(app, alice, path):
    assert_error(alice.client.get(path, headers=alice.headers), 404)
    assert_error(app.test_client().post(path, json={}), 404)


def test_the_api_root_is_a_json_404(alice):
    assert_error(alice.client.get("/jobs/api/", headers=alice.headers), 404)


@pytest.mark.parametrize("method, path, allowed", [
    ("DELETE", "/jobs/api/jobs/", {"GET", "POST"}),
    ("POST", "/jobs/api/jobs/stats/", {"GET"}),
    ("GET", "/jobs/api/jobs/1/cancel/", {"POST"}),
    ("PUT", "/jobs/api/tasks/", {"GET"}),
    ("GET", "/jobs/api/auth/token", {"POST"}),
    ("POST", "/jobs/api/swagger.json", {"GET"}),
    ("POST", "/jobs/api/docs", {"GET"}),
])
def test_wrong_methods_are_json_405s_with_allow(alice, method, path, allowed):
    response = alice.client.open(path, method=method, headers=alice.headers)
    assert_error(response, 405)
    assert allowed <= {m.strip() for m in response.headers["Allow"].split(",")}


@pytest.mark.parametrize("raw", [
    b'{"name": ', b"{'name': 'x'}", b'{"name": "x",}', b"", b"\xff\xfe{", b"NaN",
    b'{"name": "j", "task": "echo", "args": {"message": NaN}}',
    b'{"name": "j", "task": "echo", "args": {"message": Infinity}}',
    b'{"name": "j", "task": "echo", "args": {"message": 1e999}}',
    b'{"name": "j", "max_attempts": 1' + b"0" * 5000 + b"}",
    b"[" * 100_000 + b"]" * 100_000,
])
def test_malformed_json_is_a_400(alice, raw):
    response = alice.client.post("/jobs/api/jobs/", data=raw, headers={
        **alice.headers, "Content-Type": "application/json"})
    assert_error(response, 400)
    assert alice.get("/jobs/")["total"] == 0


@pytest.mark.parametrize("body", ["null", "[]", '"name"', "3", "true"])
def test_json_that_is_not_an_object_is_a_400(alice, body):
    response = alice.client.post("/jobs/api/jobs/", data=body, headers={
        **alice.headers, "Content-Type": "application/json"})
    assert_error(response, 400)


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/xml"])
def test_a_body_that_is_not_json_is_a_415(alice, content_type):
    headers = dict(alice.headers)
    if content_type:
        headers["Content-Type"] = content_type
    for method, path in [("POST", "/jobs/api/jobs/"), ("PATCH", "/jobs/api/jobs/1/"),
                         ("POST", "/jobs/api/auth/token")]:
        response = alice.client.open(path, method=method, data='{"name": "x"}',
                                     headers=headers)
        assert_error(response, 415)


@pytest.mark.parametrize("path", ["/jobs/api/jobs/", "/jobs/api/jobs/1/cancel/",
                                  "/jobs/api/auth/token"])
def test_a_body_over_one_mib_is_a_413(alice, path):
    body = json.dumps({"name": "j", "description": "x" * MiB})
    response = alice.client.post(path, data=body, headers={
        **alice.headers, "Content-Type": "application/json"})
    assert_error(response, 413)


def test_a_body_just_under_the_limit_is_read(alice):
    """Not a 413: the body is read, and judged field by field (here too long a description)."""
    answer = alice.create(400, description="x" * (MiB - 100))
    assert set(answer["errors"]) == {"description"}


def test_a_bug_is_a_json_500_without_details(app, alice, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(queries, "list_jobs", broken)
    answer = assert_error(alice.client.get("/jobs/api/jobs/", headers=alice.headers), 500)
    assert "secret" not in answer["message"]


def test_domain_errors_keep_their_status(app, alice, bob):
    job = alice.create()
    assert_error(bob.client.post(f"/jobs/api/jobs/{job['id']}/cancel/", headers=bob.headers),
                 404)
    alice.post(f"/jobs/{job['id']}/cancel/")
    assert_error(alice.client.post(f"/jobs/api/jobs/{job['id']}/cancel/",
                                   headers=alice.headers), 409)
    answer = assert_error(alice.client.post("/jobs/api/jobs/", json={"name": ""},
                                            headers=alice.headers), 400)
    assert "name" in answer["errors"]


def test_rate_limiting_is_a_json_429_with_retry_after(app, accounts):
    client = app.test_client()
    for _ in range(10):
        assert_error(client.post("/jobs/api/auth/token",
                                 json={"username": "bob", "password": "wrong-password"}), 401)
    response = client.post("/jobs/api/auth/token",
                           json={"username": "bob", "password": "wrong-password"})
    assert_error(response, 429)
    assert int(response.headers["Retry-After"]) > 0


def database_refused(*args, **kwargs):
    raise OperationalError("SELECT 1", {}, Exception("connection refused"))


def test_an_unreachable_database_is_a_json_503_with_retry_after(app, alice, monkeypatch):
    monkeypatch.setattr(queries, "list_jobs", database_refused)
    response = alice.client.get("/jobs/api/jobs/", headers=alice.headers)
    answer = assert_error(response, 503)
    assert "database" in answer["message"] and "refused" not in answer["message"]
    assert response.headers["Retry-After"] == "5"
    monkeypatch.undo()
    assert alice.client.get("/jobs/api/jobs/", headers=alice.headers).status_code == 200


def test_a_wrong_statement_is_still_a_bug_not_an_outage(app, alice, monkeypatch):
    def wrong(*args, **kwargs):
        raise ProgrammingError("SELECT nope", {}, Exception("column nope does not exist"))

    monkeypatch.setattr(queries, "list_jobs", wrong)
    answer = assert_error(alice.client.get("/jobs/api/jobs/", headers=alice.headers), 500)
    assert "nope" not in answer["message"]
