"""Fair use on the pages (SPEC §10): the job form's quota, rate and priority refusals, a
retry button past the quota, and /admin/users, where an admin sets one user's limits."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from jobsched.extensions import db
from jobsched.models import Job, User
from jobsched.runtime import event_sink
from tests.conftest import csrf_token, make_user
from tests.web.page import page_of
from tests.web.test_job_pages import VALID, errors_of, jobs_of, submit


@pytest.fixture(autouse=True)
def quiet(app) -> None:
    """No Socket.IO sink: these tests read pages (tests/realtime covers it)."""
    event_sink(app).sinks.clear()


@pytest.fixture
def alice(app, auth):
    make_user(app, "root", admin=True)  # the first account is the admin
    make_user(app, "alice")
    auth.login("alice")


def user_row(app, username: str) -> User:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        db.session.expunge(user)
        return user


def problems_of(response) -> str:
    return " ".join(page_of(response).all("div", role="alert")[0].text.split())


# -- the job form -----------------------------------------------------------------------------


@pytest.mark.parametrize("app_overrides", [{"JOBSCHED_MAX_PENDING_PER_USER": 1}])
def test_the_form_past_the_quota_is_a_429_saying_why_and_stores_nothing(app, client, alice):
    assert submit(client, name="first").status_code == 302
    response = submit(client, name="second")
    assert response.status_code == 429
    assert "At most 1 of one user's jobs may wait in the queue" in problems_of(response)
    assert [job.name for job in jobs_of(app)] == ["first"]


@pytest.mark.parametrize("app_overrides", [{"JOBSCHED_SUBMIT_RATE": "1/hour"}])
def test_the_form_past_the_rate_is_a_429_with_retry_after(app, client, alice):
    assert submit(client, name="first").status_code == 302
    response = submit(client, name="second")
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 3600
    assert "Too many job submissions: at most 1/hour per user" in problems_of(response)
    assert len(jobs_of(app)) == 1


@pytest.mark.parametrize("app_overrides", [{"JOBSCHED_SUBMIT_RATE": "1/hour"}])
def test_a_form_with_errors_does_not_spend_the_rate(app, client, alice):
    assert submit(client, **{"args_json": '{"seconds": "x"}'}).status_code == 200
    assert submit(client, name="valid").status_code == 302


@pytest.mark.parametrize("app_overrides", [{"JOBSCHED_HIGH_PRIORITY": "admins"}])
def test_a_non_admin_sees_high_disabled_and_a_posted_high_is_refused_at_the_field(
        app, client, alice):
    html = client.get("/jobs/new").get_data(as_text=True)
    assert re.search(r'<option[^>]*disabled[^>]*value="high"|<option[^>]*value="high"[^>]*'
                     r'disabled', html), html
    response = submit(client, priority="high")
    assert response.status_code == 200
    assert "High priority is for administrators" in errors_of(page_of(response))["priority"]
    assert jobs_of(app) == []
    assert submit(client, priority="medium").status_code == 302


@pytest.mark.parametrize("app_overrides", [{"JOBSCHED_HIGH_PRIORITY": "admins"}])
def test_an_admin_may_submit_high_from_the_form(app, client, auth):
    make_user(app, "root", admin=True)
    auth.login("root")
    assert 'disabled' not in re.search(r'<option[^>]*value="high"[^>]*>',
                                       client.get("/jobs/new").get_data(as_text=True))[0]
    assert submit(client, **VALID).status_code == 302
    assert jobs_of(app)[0].priority == "high"


@pytest.mark.parametrize("app_overrides", [{"JOBSCHED_MAX_PENDING_PER_USER": 1}])
def test_the_retry_button_past_the_quota_explains_and_changes_nothing(app, client, alice):
    submit(client, name="first")
    [job] = jobs_of(app)
    token = csrf_token(client, f"/jobs/{job.id}")
    client.post(f"/jobs/{job.id}/cancel", data={"csrf_token": token})
    submit(client, name="second")
    response = client.post(f"/jobs/{job.id}/retry", data={"csrf_token": token},
                           follow_redirects=True)
    alerts = " ".join(a.text for a in page_of(response).all("div", role="alert"))
    assert "At most 1 of one user's jobs may wait" in " ".join(alerts.split())
    assert jobs_of(app)[0].status == "cancelled"


# -- /admin/users -----------------------------------------------------------------------------


def limits_form(client, user_id: int, **fields: str) -> dict[str, str]:
    prefix = f"user-{user_id}-"
    data = {"max_running": "", "max_pending": "", "may_use_high": "", **fields}
    return {"csrf_token": csrf_token(client, "/admin/users"),
            **{prefix + key: value for key, value in data.items()}}


def test_non_admins_get_403_and_no_link(app, client, alice):
    assert client.get("/admin/users").status_code == 403
    assert client.post(f"/admin/users/{user_row(app, 'alice').id}/limits",
                       data={}).status_code in (400, 403)
    assert "/admin/users" not in client.get("/").get_data(as_text=True)


def test_anonymous_visitors_are_sent_to_log_in(client):
    assert client.get("/admin/users").status_code == 302


@pytest.mark.parametrize("app_overrides", [{"JOBSCHED_MAX_RUNNING_PER_USER": 4}])
def test_admins_see_every_user_with_counts_and_limits(app, client, auth):
    make_user(app, "root", admin=True)
    alice_id = make_user(app, "alice")
    with app.app_context():
        for status in ("pending", "pending", "running", "completed"):
            db.session.add(Job(name="j", owner_id=alice_id, status=status))
        db.session.get(User, alice_id).max_pending = 25
        db.session.commit()
    auth.login("root")
    assert "/admin/users" in client.get("/").get_data(as_text=True)
    page = page_of(client.get("/admin/users"))
    [row] = page.all("tr", **{"data-user": "alice"})
    assert row.attrs["id"] == f"user-{alice_id}"
    text = " ".join(page.text_of(f"user-{alice_id}").split())
    assert text.startswith("alice 2 1 ")
    assert "running: default (4)" in text and "pending: 25" in text
    assert "high: default (yes)" in text
    assert "admin" in " ".join(page.text_of(f"user-{user_row(app, 'root').id}").split())


def test_an_admin_sets_and_clears_a_users_limits(app, client, auth):
    make_user(app, "root", admin=True)
    alice_id = make_user(app, "alice")
    auth.login("root")
    response = client.post(f"/admin/users/{alice_id}/limits", data=limits_form(
        client, alice_id, max_running="2", max_pending="30", may_use_high="no"))
    assert response.status_code == 302
    alice = user_row(app, "alice")
    assert (alice.max_running, alice.max_pending, alice.may_use_high) == (2, 30, False)
    client.post(f"/admin/users/{alice_id}/limits", data=limits_form(client, alice_id))
    alice = user_row(app, "alice")
    assert (alice.max_running, alice.max_pending, alice.may_use_high) == (None, None, None)


@pytest.mark.parametrize("fields", [{"max_running": "0"}, {"max_running": "10001"},
                                    {"max_pending": "10000001"}, {"max_pending": "many"},
                                    {"may_use_high": "maybe"}])
def test_a_bad_limit_is_shown_at_its_field_and_stores_nothing(app, client, auth, fields):
    make_user(app, "root", admin=True)
    alice_id = make_user(app, "alice")
    auth.login("root")
    response = client.post(f"/admin/users/{alice_id}/limits",
                           data=limits_form(client, alice_id, **fields))
    assert response.status_code == 400
    [name] = fields
    assert f"user-{alice_id}-{name}" in errors_of(page_of(response))
    alice = user_row(app, "alice")
    assert (alice.max_running, alice.max_pending, alice.may_use_high) == (None, None, None)


def test_the_limits_form_needs_its_csrf_token(app, client, auth):
    make_user(app, "root", admin=True)
    alice_id = make_user(app, "alice")
    auth.login("root")
    data = limits_form(client, alice_id, max_running="2")
    del data["csrf_token"]
    assert client.post(f"/admin/users/{alice_id}/limits", data=data).status_code == 400
    assert user_row(app, "alice").max_running is None


def test_an_unknown_user_is_a_404(app, client, auth):
    make_user(app, "root", admin=True)
    auth.login("root")
    assert client.post("/admin/users/999/limits",
                       data=limits_form(client, 999, max_running="2")).status_code == 404
