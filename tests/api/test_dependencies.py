"""Dependencies (SPEC §12) through the API and the scheduler's own store writes, on SQLite
and PostgreSQL: a dependent waits until every job it depends on completed; a failure, a
cancellation or a deletion cancels it, naming that job, and so on down the chain."""
from __future__ import annotations

import pytest

from jobsched.extensions import db
from jobsched.jobs.depends import clean_depends_on
from jobsched.scheduler.states import ExecutionStatus
from jobsched.scheduler.store import Outcome
from jobsched.storage.store import SqlJobStore
from tests.api.conftest import job_row, make_running, set_job

DONE = Outcome(ExecutionStatus.COMPLETED, result={"ok": True})
FAILED = Outcome(ExecutionStatus.FAILED, error="boom")


def store(app) -> SqlJobStore:
    with app.app_context():
        return SqlJobStore(db.engine)


def run(app, job_id: int, outcome: Outcome = DONE):
    """Claim the job as a scheduler does and end its attempt with `outcome`."""
    jobs = store(app)
    [claim] = jobs.claim([job_id], "n1", 1, 100, 30)
    return jobs.finish(claim, outcome)


def queued(app, *ids: int) -> set[int]:
    """Which of these jobs a scheduler's heap would hold now (eligible to be claimed)."""
    return {job.id for job in store(app).fetch_queued(ids)}


def test_a_dependent_waits_until_every_job_it_depends_on_completed(app, alice):
    a, b = alice.create(name="a"), alice.create(name="b")
    c = alice.create(name="c", depends_on=[a["id"], b["id"], a["id"]])
    assert c["depends_on"] == [a["id"], b["id"]] and c["status"] == "pending"
    assert queued(app, a["id"], b["id"], c["id"]) == {a["id"], b["id"]}
    assert store(app).claim([c["id"]], "n1", 1, 100, 30) == []  # the claim checks it too
    finished = run(app, a["id"])
    assert queued(app, c["id"]) == set()
    assert finished.dependents == ((c["id"], job_row(app, c["id"]).owner_id),)
    run(app, b["id"])
    assert queued(app, c["id"]) == {c["id"]}
    assert run(app, c["id"]).status == "completed"


def test_a_job_depending_on_completed_jobs_only_is_eligible_at_once(app, alice):
    a = alice.create()
    run(app, a["id"])
    b = alice.create(depends_on=[a["id"]])
    assert queued(app, b["id"]) == {b["id"]}


def test_a_failure_cancels_the_dependents_down_the_chain_naming_the_job(app, alice):
    a = alice.create(max_attempts=1)
    b = alice.create(depends_on=[a["id"]])
    c = alice.create(depends_on=[b["id"]])
    other = alice.create()
    finished = run(app, a["id"], FAILED)
    assert {job_id for job_id, _ in finished.dependents} == {b["id"], c["id"]}
    b_now, c_now = alice.get(f"/jobs/{b['id']}/"), alice.get(f"/jobs/{c['id']}/")
    assert b_now["status"] == c_now["status"] == "cancelled"
    assert b_now["error"] == f"Cancelled because job {a['id']}, which it depends on, failed."
    assert c_now["error"] == (
        f"Cancelled because job {b['id']}, which it depends on, was cancelled.")
    assert b_now["finished_at"] is not None
    assert alice.get(f"/jobs/{other['id']}/")["status"] == "pending"


def test_a_retried_attempt_does_not_cancel_the_dependents(app, alice):
    a = alice.create(max_attempts=2)
    b = alice.create(depends_on=[a["id"]])
    assert run(app, a["id"], FAILED).status == "pending"
    assert alice.get(f"/jobs/{b['id']}/")["status"] == "pending"


def test_cancelling_or_deleting_a_job_cancels_its_dependents(app, alice):
    a, b = alice.create(), alice.create()
    after_a, after_b = (alice.create(depends_on=[x["id"]]) for x in (a, b))
    alice.post(f"/jobs/{a['id']}/cancel/")
    assert alice.get(f"/jobs/{after_a['id']}/")["error"] == (
        f"Cancelled because job {a['id']}, which it depends on, was cancelled.")
    alice.delete(f"/jobs/{b['id']}/", 204)
    gone = alice.get(f"/jobs/{after_b['id']}/")
    assert gone["status"] == "cancelled" and gone["depends_on"] == []
    assert f"job {b['id']}, which it depends on, was deleted" in gone["error"]


def test_cancelling_a_running_job_cancels_its_dependents(app, alice):
    a = alice.create()
    b = alice.create(depends_on=[a["id"]])
    make_running(app, a["id"])
    alice.post(f"/jobs/{a['id']}/cancel/")
    assert alice.get(f"/jobs/{b['id']}/")["status"] == "cancelled"


def test_a_rescue_that_fails_the_job_cancels_its_dependents(app, alice):
    a = alice.create(max_attempts=1)
    b = alice.create(depends_on=[a["id"]])
    make_running(app, a["id"])
    set_job(app, a["id"], attempts=1, lease_expires_at=job_row(app, a["id"]).started_at)
    [rescued] = store(app).rescue_expired(lambda attempt: 1.0)
    assert rescued.status == "failed" and rescued.dependents[0][0] == b["id"]
    assert alice.get(f"/jobs/{b['id']}/")["status"] == "cancelled"


@pytest.mark.parametrize(("depends_on", "field", "message"), [
    ("1", "depends_on", "is not of type 'array'"),
    ([True], "depends_on.0", "is not of type 'integer'"),
    ([0], "depends_on.0", "less than the minimum of 1"),
    ([1.5], "depends_on.0", "is not of type 'integer'"),
    ([2**31], "depends_on", "Must be a list of job ids."),
    (list(range(1, 102)), "depends_on", "Depend on at most 100 jobs."),
    ([999_999], "depends_on", "Job 999999 not found."),
])
def test_bad_depends_on_is_400_naming_the_field_and_stores_nothing(app, alice, depends_on,
                                                                   field, message):
    refused = alice.post("/jobs/", 400, json={"name": "j", "depends_on": depends_on})
    assert message in refused["errors"][field]
    assert alice.get("/jobs/")["total"] == 0


@pytest.mark.parametrize("depends_on", ["1", [True], [1.5], [2**31], list(range(1, 102))])
def test_the_service_refuses_what_the_schema_would(depends_on):
    """The form and any caller but the API's schema reach the service's own check."""
    with pytest.raises(ValueError):
        clean_depends_on(depends_on)


def test_another_users_job_is_not_found_and_an_admin_may_use_any(app, alice, bob, root):
    bobs = bob.create()
    assert alice.post("/jobs/", 400, json={"name": "j", "depends_on": [bobs["id"]]})[
        "errors"]["depends_on"] == f"Job {bobs['id']} not found."
    assert root.create(depends_on=[bobs["id"]])["depends_on"] == [bobs["id"]]


def test_depending_on_a_failed_or_cancelled_job_is_400(app, alice):
    a = alice.create()
    alice.post(f"/jobs/{a['id']}/cancel/")
    refused = alice.post("/jobs/", 400, json={"name": "j", "depends_on": [a["id"]]})
    assert refused["errors"]["depends_on"] == (
        f"Job {a['id']} cancelled: a job depending on it could never run.")


def test_a_change_replaces_depends_on_and_a_cycle_is_400(app, alice):
    a, b = alice.create(), alice.create()
    c = alice.create(depends_on=[a["id"]])
    changed = alice.put(f"/jobs/{c['id']}/", json={"depends_on": [b["id"]]})
    assert changed["depends_on"] == [b["id"]]
    run(app, b["id"])
    assert queued(app, c["id"]) == {c["id"]}
    assert alice.put(f"/jobs/{c['id']}/", json={"depends_on": []})["depends_on"] == []
    d = alice.create(depends_on=[c["id"]])
    e = alice.create(depends_on=[d["id"]])
    for parents in ([e["id"]], [d["id"]], [c["id"]]):
        refused = alice.put(f"/jobs/{c['id']}/", 400, json={"depends_on": parents})
        assert "cycle" in refused["errors"]["depends_on"]
    assert alice.get(f"/jobs/{c['id']}/")["depends_on"] == []


def test_a_retry_waits_again_and_needs_failed_dependencies_retried_first(app, alice):
    a = alice.create(max_attempts=1)
    b = alice.create(depends_on=[a["id"]])
    run(app, a["id"], FAILED)
    refused = alice.post(f"/jobs/{b['id']}/retry/", 409)
    assert f"Job {a['id']} failed" in refused["message"] and "Retry that job first" in refused[
        "message"]
    alice.post(f"/jobs/{a['id']}/retry/")
    assert alice.post(f"/jobs/{b['id']}/retry/")["status"] == "pending"
    assert queued(app, b["id"]) == set()
    run(app, a["id"])
    assert queued(app, b["id"]) == {b["id"]}


def test_the_queue_lists_a_waiting_job_after_the_eligible_ones(app, alice):
    a = alice.create(priority="low")
    b = alice.create(priority="high", depends_on=[a["id"]])
    assert [job["id"] for job in alice.get("/jobs/?sort=queue")["items"]] == [a["id"], b["id"]]
    assert alice.get("/jobs/stats/")["queued"] == 1
