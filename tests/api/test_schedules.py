"""/jobs/api/schedules/ (SPEC §12): create, read, change, pause, resume, run-now, delete;
validation naming the field; isolation between owners."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from jobsched.scheduler.clock import utcnow
from tests.api.conftest import job_row

EVERY_5 = {"name": "report", "cron": "*/5 * * * *", "job": {"task": "echo",
                                                           "args": {"message": "hi"}}}


def create(client, status: int = 201, **fields):
    return client.post("/schedules/", status, json={**EVERY_5, **fields})


def next_five_minutes(after: datetime) -> datetime:
    base = after.replace(second=0, microsecond=0)
    return base + timedelta(minutes=5 - base.minute % 5)


def test_create_answers_the_schedule_with_its_next_run(alice):
    before = utcnow()
    body = create(alice, timezone="Europe/Berlin", job={"task": "sleep", "args": {},
                                                        "deadline_seconds": 600})
    assert alice.last.headers["Location"].endswith(f"/jobs/api/schedules/{body['id']}/")
    assert body["owner"] == "alice"
    assert (body["cron"], body["timezone"], body["enabled"], body["overlap"]) == (
        "*/5 * * * *", "Europe/Berlin", True, "skip")
    assert datetime.fromisoformat(body["next_run_at"]) == next_five_minutes(before)
    assert (body["last_run_at"], body["last_job_id"], body["last_job_status"]) == (
        None, None, None)
    assert body["job"]["name"] == "report"  # named after the schedule
    assert body["job"]["args"] == {"seconds": 1}  # the task's defaults filled in
    assert body["job"]["deadline_seconds"] == 600
    assert alice.get(f"/schedules/{body['id']}/") == body
    assert alice.get("/schedules/")["items"] == [body]


@pytest.mark.parametrize(("fields", "named"), [
    ({"cron": "* * * *"}, "cron"),
    ({"cron": "* * * * * *"}, "cron"),
    ({"cron": "0 0 30 2 *"}, "cron"),
    ({"cron": "bogus"}, "cron"),
    ({"cron": 5}, "cron"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"timezone": "../../etc/passwd"}, "timezone"),
    ({"overlap": "sometimes"}, "overlap"),
    ({"enabled": "yes"}, "enabled"),
    ({"name": ""}, "name"),
    ({"job": []}, "job"),
    ({"job": {"task": "nope"}}, "job.task"),
    ({"job": {"task": "sleep", "args": {"seconds": -1}}}, "job.args.seconds"),
    ({"job": {"task": "sleep", "run_at": "2030-01-01T00:00:00Z"}}, "job.run_at"),
    ({"job": {"task": "sleep", "deadline_seconds": 0}}, "job.deadline_seconds"),
    ({"job": {"task": "sleep", "priority": "urgent"}}, "job.priority"),
    ({"next_run_at": "2030-01-01T00:00:00Z"}, "next_run_at"),
    ({"owner": "bob"}, "owner"),
])
def test_bad_input_is_a_400_naming_the_field(alice, fields, named):
    body = create(alice, 400, **fields)
    assert named in body["errors"], body
    assert alice.get("/schedules/")["items"] == []


def test_cron_and_timezone_errors_are_named_together(alice):
    body = create(alice, 400, cron="61 * * * *", timezone="Nowhere/Land")
    assert set(body["errors"]) == {"cron", "timezone"}


def test_missing_fields_are_named(alice):
    body = alice.post("/schedules/", 400, json={})
    assert {"name", "cron", "job"} <= set(body["errors"])


def test_another_users_schedule_is_404_for_every_action(alice, bob):
    schedule_id = create(alice)["id"]
    bob.get(f"/schedules/{schedule_id}/", 404)
    bob.patch(f"/schedules/{schedule_id}/", 404, json={"name": "mine"})
    bob.post(f"/schedules/{schedule_id}/pause/", 404)
    bob.post(f"/schedules/{schedule_id}/resume/", 404)
    bob.post(f"/schedules/{schedule_id}/run-now/", 404)
    bob.delete(f"/schedules/{schedule_id}/", 404)
    assert bob.get("/schedules/")["items"] == []
    assert alice.get(f"/schedules/{schedule_id}/")["name"] == "report"


def test_an_admin_sees_and_acts_on_every_schedule(alice, root):
    schedule_id = create(alice)["id"]
    assert [s["id"] for s in root.get("/schedules/")["items"]] == [schedule_id]
    assert root.post(f"/schedules/{schedule_id}/pause/")["enabled"] is False


def test_missing_ids_are_404(alice):
    alice.get("/schedules/999/", 404)
    alice.get(f"/schedules/{2**40}/", 404)


def test_pause_clears_the_next_run_and_resume_computes_it_from_now(alice):
    schedule_id = create(alice)["id"]
    paused = alice.post(f"/schedules/{schedule_id}/pause/")
    assert (paused["enabled"], paused["next_run_at"]) == (False, None)
    before = utcnow()
    resumed = alice.post(f"/schedules/{schedule_id}/resume/")
    assert resumed["enabled"] is True
    assert datetime.fromisoformat(resumed["next_run_at"]) == next_five_minutes(before)


def test_a_change_of_cron_or_zone_moves_the_next_run(alice):
    schedule_id = create(alice)["id"]
    changed = alice.put(f"/schedules/{schedule_id}/", json={"cron": "0 9 * * *",
                                                             "timezone": "Asia/Tokyo"})
    next_run = datetime.fromisoformat(changed["next_run_at"])
    assert (next_run.hour, next_run.minute) == (0, 0)  # 09:00 in Tokyo is 00:00 UTC
    assert alice.patch(f"/schedules/{schedule_id}/", 400, json={"cron": "x"})["errors"]["cron"]
    assert alice.get(f"/schedules/{schedule_id}/")["cron"] == "0 9 * * *"


def test_a_change_of_job_replaces_the_template(alice):
    schedule_id = create(alice)["id"]
    changed = alice.patch(f"/schedules/{schedule_id}/",
                          json={"job": {"task": "sleep", "args": {"seconds": 2}}})
    assert changed["job"]["task"] == "sleep" and changed["job"]["args"] == {"seconds": 2}
    assert changed["job"]["name"] == "report"


def test_run_now_makes_one_job_now_carrying_the_schedule(alice, app):
    schedule_id = create(alice, job={"task": "echo", "args": {"message": "x"},
                                     "deadline_seconds": 60})["id"]
    job = alice.post(f"/schedules/{schedule_id}/run-now/", 201)
    assert alice.last.headers["Location"].endswith(f"/jobs/api/jobs/{job['id']}/")
    assert (job["schedule_id"], job["task"], job["status"]) == (schedule_id, "echo", "pending")
    deadline = datetime.fromisoformat(job["deadline"])
    assert abs((deadline - utcnow()).total_seconds() - 60) < 10
    assert job_row(app, job["id"]).scheduled_for is None
    schedule = alice.get(f"/schedules/{schedule_id}/")
    assert (schedule["last_job_id"], schedule["last_job_status"]) == (job["id"], "pending")
    assert alice.get(f"/jobs/{job['id']}/")["schedule_id"] == schedule_id


def test_run_now_keeps_the_pending_quota(app, alice):
    app.config["JOBSCHED_MAX_PENDING_PER_USER"] = 1
    schedule_id = create(alice)["id"]
    alice.post(f"/schedules/{schedule_id}/run-now/", 201)
    body = alice.post(f"/schedules/{schedule_id}/run-now/", 429)
    assert "quota" in body["errors"]


def test_delete_keeps_the_jobs_it_made(alice):
    schedule_id = create(alice)["id"]
    job = alice.post(f"/schedules/{schedule_id}/run-now/", 201)
    alice.delete(f"/schedules/{schedule_id}/")
    alice.get(f"/schedules/{schedule_id}/", 404)
    kept = alice.get(f"/jobs/{job['id']}/")
    assert kept["schedule_id"] is None and kept["status"] == "pending"


def test_the_last_jobs_status_is_null_once_that_job_is_deleted(alice):
    schedule_id = create(alice)["id"]
    job = alice.post(f"/schedules/{schedule_id}/run-now/", 201)
    alice.delete(f"/jobs/{job['id']}/")
    schedule = alice.get(f"/schedules/{schedule_id}/")
    assert (schedule["last_job_id"], schedule["last_job_status"]) == (job["id"], None)


def test_a_user_may_not_schedule_what_they_may_not_run(app, alice):
    app.config["JOBSCHED_HIGH_PRIORITY"] = "admins"
    body = create(alice, 403, job={"task": "echo", "priority": "high"})
    assert "priority" in body["errors"]


def test_preview_lists_the_next_five_fire_times_in_the_zone(alice):
    body = alice.get("/schedules/preview/?cron=30+2+*+*+*&timezone=Europe/Berlin")
    assert body["cron"] == "30 2 * * *" and body["timezone"] == "Europe/Berlin"
    assert len(body["next"]) == len(body["local"]) == 5
    first = datetime.fromisoformat(body["next"][0])
    assert first > utcnow() and first.tzinfo is not None
    assert all(text.split()[2] == "02:30" or text.split()[2] == "03:00"
               for text in body["local"])


@pytest.mark.parametrize(("query", "named"), [
    ("cron=61+*+*+*+*", "cron"), ("", "cron"), ("cron=*+*+*+*+*&timezone=Nope", "timezone"),
    ("cron=*+*+*+*+*&extra=1", "extra"),
])
def test_preview_refuses_bad_input_naming_the_field(alice, query, named):
    assert named in alice.get(f"/schedules/preview/?{query}", 400)["errors"]


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/schedules/"), ("POST", "/schedules/"), ("GET", "/schedules/preview/?cron=x"),
    ("GET", "/schedules/{id}/"), ("PUT", "/schedules/{id}/"), ("PATCH", "/schedules/{id}/"),
    ("DELETE", "/schedules/{id}/"), ("POST", "/schedules/{id}/pause/"),
    ("POST", "/schedules/{id}/resume/"), ("POST", "/schedules/{id}/run-now/"),
])
def test_every_schedule_operation_needs_authentication(alice, anon, method, path):
    schedule_id = create(alice)["id"]
    body = anon.call(method, path.format(id=schedule_id), 401, json=EVERY_5)
    assert set(body) == {"message", "errors"}
    assert alice.get(f"/schedules/{schedule_id}/")["enabled"] is True

