"""The schedules' pages (SPEC §12): the form with its server-side preview and inline errors,
the list with next run and last job, and its pause / resume / run-now / delete buttons."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from jobsched.extensions import db
from jobsched.models import Job, Schedule
from jobsched.runtime import event_sink
from tests.conftest import csrf_token, make_user
from tests.web.page import page_of

VALID = {"name": "hourly echo", "cron": "0 * * * *", "timezone": "Europe/Berlin",
         "task": "echo", "priority": "medium", "args_json": '{"message": "hi"}',
         "max_attempts": "3", "timeout_seconds": "60", "deadline_seconds": "",
         "overlap": "skip", "enabled": "y"}


@pytest.fixture(autouse=True)
def quiet(app) -> None:
    """No Socket.IO sink: these tests read pages (tests/realtime covers the events)."""
    event_sink(app).sinks.clear()


def submit(client, **fields: str):
    data = {**VALID, **fields, "csrf_token": csrf_token(client, "/schedules/new")}
    return client.post("/schedules/new", data={k: v for k, v in data.items() if v is not None})


def schedules_of(app) -> list[Schedule]:
    with app.app_context():
        found = list(db.session.scalars(select(Schedule).order_by(Schedule.id)))
        db.session.expunge_all()
        return found


def errors_of(response) -> dict[str, str]:
    return {e.attrs["id"].removesuffix("-error"): " ".join(e.text.split())
            for e in page_of(response).all("div", **{"class": "invalid-feedback"})}


def post(client, path: str):
    return client.post(path, data={"csrf_token": csrf_token(client, "/schedules")})


def test_the_pages_need_a_login(client):
    for path in ("/schedules", "/schedules/new"):
        response = client.get(path)
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_the_form_previews_the_next_five_fire_times_server_side(client, auth):
    auth.register("alice")
    html = client.get("/schedules/new").get_data(as_text=True)
    preview = html[html.index('id="cron-preview"'):html.index("</section>")]
    fires = re.findall(r"<li>([^<]+)</li>", preview)
    assert len(fires) == 5 and all(fire.endswith(":00 UTC") for fire in fires)
    assert 'src="/static/js/schedule_form.js"' in html and "<script>" not in html


def test_a_valid_schedule_is_saved_and_listed(app, client, auth):
    auth.register("alice")
    response = submit(client)
    assert response.status_code == 302 and response.headers["Location"].endswith("/schedules")
    [saved] = schedules_of(app)
    assert (saved.name, saved.cron, saved.timezone, saved.overlap, saved.enabled) == (
        "hourly echo", "0 * * * *", "Europe/Berlin", "skip", True)
    assert saved.job["args"] == {"message": "hi"} and saved.job["task"] == "echo"
    assert saved.next_run_at is not None
    listing = client.get("/schedules").get_data(as_text=True)
    assert "hourly echo" in listing and "<code>0 * * * *</code>" in listing
    assert "CET" in listing or "CEST" in listing  # the next run in the schedule's zone


@pytest.mark.parametrize(("fields", "field"), [
    ({"cron": "* * * *"}, "cron"), ({"cron": "0 0 30 2 *"}, "cron"),
    ({"timezone": "Mars/Olympus"}, "timezone"), ({"args_json": "{nope"}, "args_json"),
    ({"task": "sleep", "args_json": '{"seconds": -1}'}, "args_json"),
    ({"name": ""}, "name"), ({"deadline_seconds": "0"}, "deadline_seconds"),
])
def test_bad_input_is_shown_at_the_field_and_nothing_saved(app, client, auth, fields, field):
    auth.register("alice")
    response = submit(client, **fields)
    assert response.status_code == 400
    assert field in errors_of(response)
    assert schedules_of(app) == []


def test_pause_resume_run_now_and_delete_from_the_list(app, client, auth):
    auth.register("alice")
    submit(client)
    [saved] = schedules_of(app)
    assert post(client, f"/schedules/{saved.id}/pause").status_code == 302
    assert schedules_of(app)[0].enabled is False
    assert "paused" in client.get("/schedules").get_data(as_text=True)
    post(client, f"/schedules/{saved.id}/resume")
    assert schedules_of(app)[0].enabled is True
    response = post(client, f"/schedules/{saved.id}/run-now")
    with app.app_context():
        [job] = db.session.scalars(select(Job)).all()
        assert job.schedule_id == saved.id
    assert response.headers["Location"].endswith(f"/jobs/{job.id}")
    listing = client.get("/schedules").get_data(as_text=True)
    assert f"#{job.id}" in listing and "status-pending" in listing
    post(client, f"/schedules/{saved.id}/delete")
    assert schedules_of(app) == []
    with app.app_context():
        assert db.session.get(Job, job.id).schedule_id is None


def test_another_users_schedule_is_404_on_every_action(app, client, auth):
    auth.register("alice")
    submit(client)
    [saved] = schedules_of(app)
    auth.logout()
    make_user(app, "bob")
    auth.login("bob")
    assert "hourly echo" not in client.get("/schedules").get_data(as_text=True)
    for action in ("pause", "resume", "run-now", "delete"):
        assert post(client, f"/schedules/{saved.id}/{action}").status_code == 404
    assert schedules_of(app)[0].enabled is True


def test_the_nav_links_to_the_schedules(client, auth):
    auth.register("alice")
    assert 'href="/schedules"' in client.get("/").get_data(as_text=True)
