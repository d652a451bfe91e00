"""A scheduler changing a job between the API's read and its write never gets overwritten.

On PostgreSQL a request reads without locking, so a claim or a finish can land in between;
the service's conditional write notices and decides again on the new state. (SQLite's
BEGIN IMMEDIATE serialises the writers, so there the race cannot happen at all.)
"""
from __future__ import annotations

import pytest
from sqlalchemy import update

from jobsched.extensions import db
from jobsched.jobs import service
from jobsched.models import Job
from tests.api.conftest import job_row, make_running

pytestmark = pytest.mark.parametrize(
    "backend", [pytest.param("postgres", marks=pytest.mark.postgres)])


def change_after_first_read(monkeypatch, **values) -> None:
    """Make another connection commit `values` to the job right after the service reads it."""
    read = service.find_visible_job
    calls = []

    def racing(session, user, job_id):
        job = read(session, user, job_id)
        if not calls:
            calls.append(job_id)
            with db.engine.begin() as other:
                other.execute(update(Job).where(Job.id == job_id).values(**values))
        return job

    monkeypatch.setattr(service, "find_visible_job", racing)


def test_an_edit_racing_a_claim_is_409_and_changes_nothing(app, alice, monkeypatch):
    job = alice.create(name="before")
    change_after_first_read(monkeypatch, status="running", lease_token="t-1", attempts=1)
    assert "running" in alice.patch(f"/jobs/{job['id']}/", 409, json={"name": "after"})[
        "message"]
    row = job_row(app, job["id"])
    assert (row.name, row.status, row.lease_token) == ("before", "running", "t-1")


def test_a_cancel_racing_completion_is_409_and_the_result_stays(app, alice, monkeypatch):
    job = alice.create()
    make_running(app, job["id"])
    change_after_first_read(monkeypatch, status="completed", lease_token=None,
                            result={"done": True})
    assert "completed" in alice.post(f"/jobs/{job['id']}/cancel/", 409)["message"]
    row = job_row(app, job["id"])
    assert (row.status, row.result) == ("completed", {"done": True})


def test_a_cancel_racing_a_rescue_cancels_the_new_state(app, alice, monkeypatch):
    """Rescued back to pending meanwhile: the cancel still applies, to the pending job."""
    job = alice.create()
    make_running(app, job["id"])
    change_after_first_read(monkeypatch, status="pending", lease_token=None, node=None)
    assert alice.post(f"/jobs/{job['id']}/cancel/")["status"] == "cancelled"
    assert job_row(app, job["id"]).status == "cancelled"
