"""The queue policy over the API (SPEC §10): effective_priority and sort=queue under aging
and feasible_first, and a retry that starts a job's age afresh."""
from __future__ import annotations

from datetime import timedelta

import pytest

from jobsched.scheduler.clock import utcnow
from tests.api.conftest import job_row, set_job

AGING = {"JOBSCHED_AGING_SECONDS": 600}
FEASIBLE_FIRST = {"JOBSCHED_OVERLOAD_POLICY": "feasible_first"}


def queued_ago(app, job_id: int, seconds: float) -> None:
    set_job(app, job_id, queued_at=utcnow() - timedelta(seconds=seconds))


def queue_ids(client) -> list[int]:
    return [job["id"] for job in client.get("/jobs/?sort=queue")["items"]]


def test_without_aging_the_effective_priority_is_the_priority(app, alice):
    job = alice.create(priority="low")
    queued_ago(app, job["id"], 86_400)
    assert alice.get(f"/jobs/{job['id']}/")["effective_priority"] == "low"


@pytest.mark.parametrize("app_overrides", [AGING])
def test_a_job_waiting_n_seconds_is_ordered_one_class_higher_and_after_2n_two(app, alice):
    low, medium, fresh_low = (alice.create(priority=p) for p in ("low", "medium", "low"))
    queued_ago(app, low["id"], 700)
    queued_ago(app, medium["id"], 30)
    seen = alice.get(f"/jobs/{low['id']}/")
    assert (seen["priority"], seen["effective_priority"]) == ("low", "medium")
    # Aged to medium, it runs before the younger medium job (earlier id, no deadlines).
    assert queue_ids(alice) == [low["id"], medium["id"], fresh_low["id"]]
    queued_ago(app, low["id"], 1300)
    assert alice.get(f"/jobs/{low['id']}/")["effective_priority"] == "high"
    listed = {job["id"]: job["effective_priority"] for job in alice.get("/jobs/")["items"]}
    assert listed == {low["id"]: "high", medium["id"]: "medium", fresh_low["id"]: "low"}


@pytest.mark.parametrize("app_overrides", [AGING])
def test_a_job_waiting_for_its_run_at_does_not_age(app, alice):
    later = (utcnow() + timedelta(hours=1)).isoformat()
    job = alice.create(priority="low", run_at=later)
    queued_ago(app, job["id"], 7200)
    assert alice.get(f"/jobs/{job['id']}/")["effective_priority"] == "low"


@pytest.mark.parametrize("app_overrides", [AGING])
def test_finished_jobs_show_their_own_priority_and_a_retry_ages_afresh(app, alice):
    job = alice.create(priority="low")
    queued_ago(app, job["id"], 7200)
    alice.post(f"/jobs/{job['id']}/cancel/")
    assert alice.get(f"/jobs/{job['id']}/")["effective_priority"] == "low"
    retried = alice.post(f"/jobs/{job['id']}/retry/")
    assert retried["effective_priority"] == "low"
    assert utcnow() - job_row(app, job["id"]).queued_at < timedelta(minutes=1)


@pytest.mark.parametrize("app_overrides", [FEASIBLE_FIRST])
def test_feasible_first_lists_a_job_that_can_no_longer_make_its_deadline_after_those_that_can(
        app, alice):
    soon = (utcnow() + timedelta(minutes=10)).isoformat()
    later = (utcnow() + timedelta(hours=2)).isoformat()
    hopeless = alice.create(deadline=soon, timeout_seconds=3600)  # needs an hour, has 10 min
    feasible = alice.create(deadline=later, timeout_seconds=60)
    no_deadline = alice.create()
    assert queue_ids(alice) == [feasible["id"], hopeless["id"], no_deadline["id"]]


def test_the_strict_order_is_earliest_deadline_first_whatever_the_run_time(app, alice):
    soon = (utcnow() + timedelta(minutes=10)).isoformat()
    later = (utcnow() + timedelta(hours=2)).isoformat()
    hopeless = alice.create(deadline=soon, timeout_seconds=3600)
    feasible = alice.create(deadline=later, timeout_seconds=60)
    assert queue_ids(alice) == [hopeless["id"], feasible["id"]]
