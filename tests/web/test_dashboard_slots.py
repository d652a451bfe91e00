"""The dashboard's Running card (issue 16): the slots in use system-wide, for everyone, and
for a non-admin the share other users' jobs hold; never whose jobs they are."""
from __future__ import annotations

from jobsched.extensions import db
from jobsched.models import Job
from tests.api.conftest import make_running, user_id
from tests.conftest import make_user
from tests.web.page import Page, page_of


def running_jobs(app, owner_id: int, count: int, name: str = "job") -> None:
    for _ in range(count):
        with app.app_context():
            job = Job(name=name, task="sleep", args={"seconds": 1}, owner_id=owner_id)
            db.session.add(job)
            db.session.commit()
            job_id = job.id
        make_running(app, job_id)


def others_part(page: Page) -> list[bool]:
    """Whether the "by other users" part shows: one flag per such part on the page."""
    return ["hidden" not in e.attrs for e in page.all("span", **{"data-slots-others": ""})]


def test_a_user_sees_the_slots_other_users_fill(app, client, auth):
    root = make_user(app, "root", admin=True)
    running_jobs(app, root, 3, name="secret payroll run")
    auth.register("bob")
    page = page_of(client.get("/"))
    assert page.text_of("slots-figure") == "3 / 3 busy — 3 by other users"
    assert others_part(page) == [True]
    assert "secret payroll run" not in client.get("/").get_data(as_text=True)
    [bar] = page.all("div", role="progressbar")
    assert (bar.attrs["aria-valuenow"], bar.attrs["aria-valuemax"]) == ("3", "3")


def test_a_users_own_running_jobs_are_not_others(app, client, auth):
    root = make_user(app, "root", admin=True)
    running_jobs(app, root, 1)
    auth.register("bob")
    page = page_of(client.get("/"))
    assert page.text_of("slots-figure") == "1 / 3 busy — 1 by other users"
    running_jobs(app, user_id(app, "bob"), 2)
    page = page_of(client.get("/"))
    assert page.text_of("slots-figure") == "3 / 3 busy — 1 by other users"
    assert [" ".join(e.text.split()) for e in page.all("span", **{"data-stat": "running"})] == [
        "2"]


def test_with_no_job_running_the_others_part_is_hidden(app, client, auth):
    make_user(app, "root", admin=True)
    auth.register("alice")
    page = page_of(client.get("/"))
    assert page.text_of("slots-figure").startswith("0 / 3 busy")
    assert others_part(page) == [False]


def test_an_admin_sees_every_busy_slot_without_an_others_part(app, client, auth):
    auth.register("root")  # the first account is the admin
    running_jobs(app, make_user(app, "bob"), 2)
    page = page_of(client.get("/"))
    assert page.text_of("slots-figure") == "2 / 3 busy"
    assert others_part(page) == []

