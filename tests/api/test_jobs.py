"""Jobs over the API: create, read, change, cancel, retry, delete, executions (SPEC §6)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jobsched.scheduler.clock import utcnow
from jobsched.scheduler.events import JobChanged, JobDeleted
from tests.api.conftest import (
    add_execution,
    executions_of,
    job_row,
    make_running,
    set_job,
    user_id,
)


def parse(value: str) -> datetime:
    stamp = datetime.fromisoformat(value)
    assert stamp.tzinfo is not None, f"{value} has no offset"
    return stamp


# --- create ------------------------------------------------------------------------------

def test_create_answers_201_with_the_job_its_defaults_and_location(alice, events):
    before = utcnow()
    job = alice.create(name="Nightly report")
    assert alice.last.headers["Location"] == f"/jobs/api/jobs/{job['id']}/"
    assert job["name"] == "Nightly report" and job["owner"] == "alice"
    assert {k: job[k] for k in ("description", "task", "args", "priority", "max_attempts",
                                "timeout_seconds", "status", "attempts", "deadline", "run_at",
                                "progress", "result", "error", "started_at", "finished_at",
                                "deadline_missed", "concurrency_key", "concurrency_limit")} == {
        "description": "", "task": "sleep", "args": {"seconds": 1}, "priority": "medium",
        "max_attempts": 3, "timeout_seconds": 3600, "status": "pending", "attempts": 0,
        "deadline": None, "run_at": None, "progress": None, "result": None, "error": None,
        "started_at": None, "finished_at": None, "deadline_missed": False,
        "concurrency_key": None, "concurrency_limit": 1,
    }
    assert parse(job["created_at"]) >= before - timedelta(seconds=1)
    assert alice.get(f"/jobs/{job['id']}/") == job
    assert events.events == [JobChanged(job["id"], user_id(alice.app, "alice"))]


def test_create_takes_every_editable_field(alice):
    job = alice.create(name="n", description="d", task="echo", args={"message": [1, "x"]},
                       priority="high", deadline="2031-05-01T12:00:00+02:00",
                       run_at="2031-05-01T09:00:00Z", max_attempts=5, timeout_seconds=60)
    assert (job["description"], job["task"], job["args"], job["priority"]) == (
        "d", "echo", {"message": [1, "x"]}, "high")
    assert (job["max_attempts"], job["timeout_seconds"]) == (5, 60)
    assert job["deadline"] == "2031-05-01T10:00:00+00:00"
    assert job["run_at"] == "2031-05-01T09:00:00+00:00"


def test_a_naive_timestamp_means_utc_and_comes_back_with_an_offset(alice):
    job = alice.create(deadline="2031-01-02T03:04:05")
    assert job["deadline"] == "2031-01-02T03:04:05+00:00"
    assert parse(job["deadline"]) == datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize("body, field", [
    ({}, "name"),
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "x" * 201}, "name"),
    ({"name": 5}, "name"),
    ({"name": "j", "priority": "urgent"}, "priority"),
    ({"name": "j", "max_attempts": 0}, "max_attempts"),
    ({"name": "j", "max_attempts": 26}, "max_attempts"),
    ({"name": "j", "max_attempts": "3"}, "max_attempts"),
    ({"name": "j", "max_attempts": True}, "max_attempts"),
    ({"name": "j", "timeout_seconds": 0}, "timeout_seconds"),
    ({"name": "j", "timeout_seconds": 86401}, "timeout_seconds"),
    ({"name": "j", "deadline": "tomorrow"}, "deadline"),
    ({"name": "j", "deadline": 1700000000}, "deadline"),
    ({"name": "j", "run_at": "2031-13-01T00:00:00"}, "run_at"),
    ({"name": "j", "deadline": "9999-12-31T23:59:59-05:00"}, "deadline"),
    ({"name": "j", "args": [1]}, "args"),
    ({"name": "j", "task": "no-such-task"}, "task"),
    ({"name": "j\x00"}, "name"),
    ({"name": "j", "description": "\ud800"}, "description"),
    ({"name": "j", "task": "echo", "args": {"message": "a\x00b"}}, "args"),
])
def test_bad_fields_are_a_400_naming_the_field(alice, body, field):
    error = alice.post("/jobs/", 400, json=body)
    assert field in error["errors"], error
    assert error["message"]
    assert alice.get("/jobs/")["total"] == 0


@pytest.mark.parametrize("field, value", [
    ("status", "completed"), ("owner", "bob"), ("attempts", 0), ("id", 7), ("result", 1),
    ("created_at", "2030-01-01T00:00:00Z"), ("progress", 50), ("colour", "blue"),
])
def test_unknown_and_read_only_fields_are_a_400_never_dropped(alice, field, value):
    error = alice.post("/jobs/", 400, json={"name": "j", field: value})
    assert error["errors"] == {field: "Unknown or read-only field."}


@pytest.mark.parametrize("task, args, field", [
    ("sleep", {"seconds": -1}, "args.seconds"),
    ("sleep", {"seconds": "ten"}, "args.seconds"),
    ("sleep", {"seconds": 86401}, "args.seconds"),
    ("sleep", {"minutes": 1}, "args.minutes"),
    ("echo", {}, "args.message"),
    ("fail", {"message": 3}, "args.message"),
])
def test_args_are_checked_against_the_tasks_schema_field_by_field(alice, task, args, field):
    error = alice.post("/jobs/", 400, json={"name": "j", "task": task, "args": args})
    assert field in error["errors"], error
    assert task in error["message"]


def test_args_get_the_schemas_defaults(alice):
    assert alice.create(task="fail")["args"] == {"message": "failed on purpose"}
    assert alice.create(task="sleep", args={"seconds": 0.5})["args"] == {"seconds": 0.5}


def test_shell_is_an_unknown_task_unless_enabled(alice, root):
    for client in (alice, root):
        error = client.post("/jobs/", 400, json={"name": "j", "task": "shell",
                                                 "args": {"command": "true"}})
        assert "task" in error["errors"]
    assert "shell" not in [t["name"] for t in alice.get("/tasks/")["items"]]


@pytest.mark.parametrize("app_overrides", [{"JOBSCHED_ENABLE_SHELL": True}])
def test_enabled_shell_is_for_admins_only(alice, root):
    body = {"name": "j", "task": "shell", "args": {"command": "echo hi"}}
    assert "administrator" in alice.post("/jobs/", 403, json=body)["message"]
    assert root.post("/jobs/", 201, json=body)["task"] == "shell"
    listed = {t["name"]: t for t in alice.get("/tasks/")["items"]}
    assert listed["shell"]["admin_only"] is True
    assert listed["shell"]["args_schema"]["required"] == ["command"]


# --- read -----------------------------------------------------------------------------------

def test_get_a_missing_job_is_404(alice):
    for job_id in (1, 999, 2**31, 10**30):
        assert alice.get(f"/jobs/{job_id}/", 404)["message"]


# --- update ---------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["put", "patch"])
def test_put_and_patch_change_only_the_fields_sent(alice, events, method):
    job = alice.create(name="old", description="keep", deadline="2031-01-01T00:00:00Z")
    changed = getattr(alice, method)(f"/jobs/{job['id']}/", json={
        "name": "new", "priority": "low", "deadline": None, "args": {"seconds": 3},
        "run_at": "2031-02-01T00:00:00+01:00", "max_attempts": 1, "timeout_seconds": 5,
    })
    assert (changed["name"], changed["priority"], changed["deadline"]) == ("new", "low", None)
    assert changed["args"] == {"seconds": 3} and changed["description"] == "keep"
    assert changed["run_at"] == "2031-01-31T23:00:00+00:00"
    assert (changed["max_attempts"], changed["timeout_seconds"]) == (1, 5)
    assert parse(changed["updated_at"]) >= parse(job["updated_at"])
    assert alice.get(f"/jobs/{job['id']}/") == changed
    assert events.events[-1] == JobChanged(job["id"], user_id(alice.app, "alice"))


def test_an_empty_change_is_a_no_op(alice):
    job = alice.create()
    unchanged = alice.patch(f"/jobs/{job['id']}/", json={})
    assert {**unchanged, "updated_at": None} == {**job, "updated_at": None}


def test_update_revalidates_args_against_the_jobs_task(alice):
    job = alice.create(task="echo", args={"message": "hi"})
    error = alice.patch(f"/jobs/{job['id']}/", 400, json={"args": {"seconds": 1}})
    assert set(error["errors"]) == {"args.message", "args.seconds"}
    assert alice.patch(f"/jobs/{job['id']}/", json={"args": {"message": 2}})["args"] == {
        "message": 2}


@pytest.mark.parametrize("body, field", [
    ({"task": "echo"}, "task"), ({"status": "completed"}, "status"), ({"owner": "bob"}, "owner"),
    ({"name": ""}, "name"), ({"priority": None}, "priority"), ({"max_attempts": 99},
                                                               "max_attempts"),
])
def test_update_refuses_bad_and_read_only_fields(alice, body, field):
    job = alice.create()
    assert field in alice.put(f"/jobs/{job['id']}/", 400, json=body)["errors"]
    assert alice.get(f"/jobs/{job['id']}/") == job


@pytest.mark.parametrize("status", ["running", "completed", "failed", "cancelled"])
def test_only_a_pending_job_can_be_changed(app, alice, status):
    job = alice.create()
    if status == "running":
        make_running(app, job["id"])
    else:
        set_job(app, job["id"], status=status)
    assert status in alice.patch(f"/jobs/{job['id']}/", 409, json={"name": "x"})["message"]
    assert alice.get(f"/jobs/{job['id']}/")["name"] == "job"


def test_a_priority_change_reorders_the_queue_at_once(alice):
    first, second = alice.create(name="a"), alice.create(name="b")
    queue = lambda: [j["name"] for j in alice.get("/jobs/?sort=queue")["items"]]  # noqa: E731
    assert queue() == ["a", "b"]
    alice.patch(f"/jobs/{second['id']}/", json={"priority": "high"})
    assert queue() == ["b", "a"]
    alice.patch(f"/jobs/{first['id']}/", json={"priority": "high",
                                               "deadline": "2030-01-01T00:00:00Z"})
    assert queue() == ["a", "b"]


# --- cancel ---------------------------------------------------------------------------------

def test_cancel_a_pending_job(alice, events):
    job = alice.create()
    cancelled = alice.post(f"/jobs/{job['id']}/cancel/")
    assert cancelled["status"] == "cancelled" and cancelled["finished_at"] is not None
    assert parse(cancelled["finished_at"]) <= utcnow() + timedelta(seconds=5)
    assert isinstance(events.events[-1], JobChanged)


def test_cancel_a_running_job_ends_its_lease_and_closes_its_execution(app, alice):
    job = alice.create()
    make_running(app, job["id"])
    cancelled = alice.post(f"/jobs/{job['id']}/cancel/")
    assert cancelled["status"] == "cancelled" and cancelled["finished_at"]
    row = job_row(app, job["id"])
    assert (row.lease_token, row.lease_expires_at, row.node) == (None, None, None)
    [execution] = alice.get(f"/jobs/{job['id']}/executions/")["items"]
    assert execution["status"] == "cancelled" and execution["finished_at"]
    assert execution["duration_seconds"] >= 0
    assert "alice" in execution["error"]


def test_cancel_after_the_deadline_marks_it_missed(app, alice):
    job = alice.create(deadline=(utcnow() - timedelta(minutes=1)).isoformat())
    assert job["deadline_missed"] is True  # unfinished past its deadline
    assert alice.post(f"/jobs/{job['id']}/cancel/")["deadline_missed"] is True
    assert job_row(app, job["id"]).deadline_missed is True


@pytest.mark.parametrize("status", ["completed", "failed", "cancelled"])
def test_cancel_a_finished_job_is_409(app, alice, status):
    job = alice.create()
    set_job(app, job["id"], status=status)
    assert "cannot be cancelled" in alice.post(f"/jobs/{job['id']}/cancel/", 409)["message"]


# --- retry ----------------------------------------------------------------------------------

@pytest.mark.parametrize("status", ["failed", "cancelled"])
def test_retry_starts_over_and_keeps_the_history(app, alice, events, status):
    job = alice.create(task="fail")
    add_execution(app, job["id"], 1, "failed", error="boom")
    add_execution(app, job["id"], 2, "failed", error="boom")
    set_job(app, job["id"], status=status, attempts=2, error="boom", result={"x": 1},
            progress=40, finished_at=utcnow(), deadline_missed=True, started_at=utcnow())
    retried = alice.post(f"/jobs/{job['id']}/retry/")
    assert {k: retried[k] for k in ("status", "attempts", "error", "result", "progress",
                                    "finished_at", "deadline_missed")} == {
        "status": "pending", "attempts": 0, "error": None, "result": None, "progress": None,
        "finished_at": None, "deadline_missed": False}
    assert [e["attempt"] for e in alice.get(f"/jobs/{job['id']}/executions/")["items"]] == [1, 2]
    assert isinstance(events.events[-1], JobChanged)


@pytest.mark.parametrize("status", ["pending", "running", "completed"])
def test_retry_anything_but_failed_or_cancelled_is_409(app, alice, status):
    job = alice.create()
    if status == "running":
        make_running(app, job["id"])
    elif status == "completed":
        set_job(app, job["id"], status="completed")
    assert "cannot be retried" in alice.post(f"/jobs/{job['id']}/retry/", 409)["message"]
    assert alice.get(f"/jobs/{job['id']}/")["status"] == status


# --- delete ---------------------------------------------------------------------------------

@pytest.mark.parametrize("status", ["pending", "completed", "failed", "cancelled"])
def test_delete_removes_the_job_and_its_executions(app, alice, events, status):
    job = alice.create()
    add_execution(app, job["id"], 1, "failed")
    set_job(app, job["id"], status=status)
    alice.delete(f"/jobs/{job['id']}/")
    alice.get(f"/jobs/{job['id']}/", 404)
    assert executions_of(app, job["id"]) == []
    assert events.events[-1] == JobDeleted(job["id"], user_id(app, "alice"))


def test_delete_a_running_job_is_409(app, alice):
    job = alice.create()
    make_running(app, job["id"])
    assert "cancel it first" in alice.delete(f"/jobs/{job['id']}/", 409)["message"]
    assert alice.get(f"/jobs/{job['id']}/")["status"] == "running"


def test_delete_a_missing_job_is_404(alice):
    alice.delete("/jobs/41/", 404)


# --- executions -----------------------------------------------------------------------------

def test_executions_are_listed_oldest_first_in_spec_form(app, alice):
    job = alice.create()
    start = utcnow() - timedelta(minutes=5)
    add_execution(app, job["id"], 1, "lost", started_at=start, error="lost: node n1",
                  finished_at=start + timedelta(seconds=30), duration_seconds=30.0)
    set_job(app, job["id"], attempts=1)
    make_running(app, job["id"], node="host:42")
    items = alice.get(f"/jobs/{job['id']}/executions/")["items"]
    assert [(e["attempt"], e["status"], e["node"]) for e in items] == [
        (1, "lost", "node-1"), (2, "running", "host:42")]
    first = items[0]
    assert set(first) == {"id", "attempt", "status", "node", "started_at", "finished_at",
                          "duration_seconds", "output", "error"}
    assert parse(first["started_at"]) == start
    assert first["duration_seconds"] == 30.0 and first["output"] == ""
    assert items[1]["finished_at"] is None


def test_executions_of_a_job_without_attempts_is_empty(alice):
    assert alice.get(f"/jobs/{alice.create()['id']}/executions/") == {
        "items": [], "total": 0, "page": 1, "per_page": 50}


def add_attempts(app, job_id: int, count: int) -> None:
    for attempt in range(1, count + 1):
        add_execution(app, job_id, attempt, "failed", error=f"try {attempt}")


def test_executions_are_paged_like_the_job_list(app, alice):
    job = alice.create()
    add_attempts(app, job["id"], 7)
    path = f"/jobs/{job['id']}/executions/"
    pages = [alice.get(path, query_string={"per_page": 3, "page": n}) for n in (1, 2, 3, 4)]
    assert [[e["attempt"] for e in p["items"]] for p in pages] == [[1, 2, 3], [4, 5, 6], [7], []]
    assert {(p["total"], p["per_page"]) for p in pages} == {(7, 3)}
    assert [p["page"] for p in pages] == [1, 2, 3, 4]


def test_executions_come_50_a_page_unless_asked(app, alice):
    job = alice.create()
    add_attempts(app, job["id"], 55)
    first = alice.get(f"/jobs/{job['id']}/executions/")
    assert (len(first["items"]), first["total"], first["per_page"]) == (50, 55, 50)


@pytest.mark.parametrize(("query", "field"), [
    ({"page": 0}, "page"), ({"per_page": 201}, "per_page"), ({"per_page": "x"}, "per_page"),
    ({"status": "failed"}, "status"),
])
def test_bad_execution_paging_is_a_400_naming_the_parameter(alice, query, field):
    body = alice.get(f"/jobs/{alice.create()['id']}/executions/", 400, query_string=query)
    assert set(body["errors"]) == {field}


# --- URLs -----------------------------------------------------------------------------------

@pytest.mark.parametrize("method, path, status", [
    ("POST", "/jobs", 201), ("GET", "/jobs", 200), ("GET", "/jobs/stats", 200),
    ("GET", "/tasks", 200), ("PATCH", "/jobs/{id}", 200), ("PUT", "/jobs/{id}", 200),
    ("POST", "/jobs/{id}/cancel", 200), ("POST", "/jobs/{id}/retry", 200),
    ("GET", "/jobs/{id}/executions", 200), ("DELETE", "/jobs/{id}", 204),
])
def test_no_endpoint_redirects_without_its_trailing_slash(alice, method, path, status):
    job = alice.create()
    body = {"name": "j"} if method in ("POST", "PUT", "PATCH") and "cancel" not in path \
        and "retry" not in path else None
    if path.endswith("/retry"):
        alice.post(f"/jobs/{job['id']}/cancel/")
    alice.call(method, path.format(id=job["id"]), status, json=body)
