"""Bulk actions (SPEC §13): cancel, retry, delete by ids or by the list's filters, over the
caller's visible jobs only, wrong-state jobs skipped and counted, in one transaction."""
from __future__ import annotations

import pytest

from tests.api.conftest import job_row, make_running

BULK = "/jobs/bulk/"


def statuses(client) -> dict[str, str]:
    return {job["name"]: job["status"] for job in client.get("/jobs/?per_page=200")["items"]}


def test_cancel_by_ids_skips_finished_jobs_and_stops_running_ones(app, alice):
    waiting, running, done = (alice.create(name=n) for n in ("waiting", "running", "done"))
    make_running(app, running["id"])
    alice.post(f"/jobs/{done['id']}/cancel/")
    result = alice.post(BULK, json={"action": "cancel",
                                    "ids": [waiting["id"], running["id"], done["id"], 999_999]})
    assert result == {"matched": 3, "changed": 2, "skipped": 1}
    assert statuses(alice) == {"waiting": "cancelled", "running": "cancelled", "done": "cancelled"}
    assert job_row(app, running["id"]).lease_token is None
    [execution] = alice.get(f"/jobs/{running['id']}/executions/")["items"]
    assert execution["status"] == "cancelled" and execution["error"] == "cancelled by alice"


def test_a_filter_never_reaches_another_users_jobs(app, alice, bob):
    alice.create(name="mine", task="echo", args={"message": "x"})
    bob.create(name="theirs", task="echo", args={"message": "x"})
    result = alice.post(BULK, json={"action": "cancel", "filter": {"task": "echo"}})
    assert result == {"matched": 1, "changed": 1, "skipped": 0}
    assert statuses(bob) == {"theirs": "pending"}
    assert alice.post(BULK, json={"action": "delete", "ids": [
        job["id"] for job in bob.get("/jobs/")["items"]]}) == {
        "matched": 0, "changed": 0, "skipped": 0}
    assert statuses(bob) == {"theirs": "pending"}


def test_an_admin_acts_on_everyones_jobs_and_may_filter_by_owner(app, alice, bob, root):
    alice.create(name="a"), bob.create(name="b")
    assert root.post(BULK, json={"action": "cancel", "filter": {"owner": "bob"}})[
        "changed"] == 1
    assert statuses(alice) == {"a": "pending"} and statuses(bob) == {"b": "cancelled"}


def test_retry_by_filter_puts_failed_and_cancelled_jobs_back(app, alice):
    for name in ("one", "two"):
        job = alice.create(name=name)
        alice.post(f"/jobs/{job['id']}/cancel/")
    alice.create(name="three")
    result = alice.post(BULK, json={"action": "retry", "filter": {"status": ["cancelled",
                                                                             "pending"]}})
    assert result == {"matched": 3, "changed": 2, "skipped": 1}
    assert statuses(alice) == {"one": "pending", "two": "pending", "three": "pending"}


def test_retry_skips_a_held_unique_key_and_takes_one_of_each_key(app, alice):
    first, second = alice.create(name="first", unique_key="k"), alice.create(name="x")
    alice.post(BULK, json={"action": "cancel", "ids": [first["id"], second["id"]]})
    third = alice.create(name="third", unique_key="k")  # holds the key now
    assert alice.post(BULK, json={"action": "retry", "ids": [first["id"]]})["changed"] == 0
    alice.post(f"/jobs/{third['id']}/cancel/")
    result = alice.post(BULK, json={"action": "retry", "ids": [first["id"], third["id"]]})
    assert result == {"matched": 2, "changed": 1, "skipped": 1}
    assert statuses(alice)["first"] == "pending" and statuses(alice)["third"] == "cancelled"


@pytest.mark.parametrize("app_overrides", [{"JOBSCHED_MAX_PENDING_PER_USER": 2}])
def test_a_retry_past_the_quota_is_429_and_changes_nothing(app, alice):
    jobs = [alice.create(name=f"j{i}") for i in range(2)]
    alice.post(BULK, json={"action": "cancel", "filter": {}})
    alice.create(name="new")
    alice.post(BULK, 429, json={"action": "retry", "ids": [job["id"] for job in jobs]})
    assert sorted(statuses(alice).values()) == ["cancelled", "cancelled", "pending"]


def test_delete_skips_running_jobs_and_cancels_dependents(app, alice):
    parent, running = alice.create(name="parent"), alice.create(name="running")
    child = alice.create(name="child", depends_on=[parent["id"]])
    make_running(app, running["id"])
    result = alice.post(BULK, json={"action": "delete", "ids": [parent["id"], running["id"]]})
    assert result == {"matched": 2, "changed": 1, "skipped": 1}
    assert statuses(alice) == {"running": "running", "child": "cancelled"}
    assert "was deleted" in alice.get(f"/jobs/{child['id']}/")["error"]


def test_cancel_cancels_the_dependents_down_the_chain(app, alice):
    a = alice.create(name="a")
    b = alice.create(name="b", depends_on=[a["id"]])
    alice.create(name="c", depends_on=[b["id"]])
    assert alice.post(BULK, json={"action": "cancel", "ids": [a["id"]]})["changed"] == 1
    assert statuses(alice) == {"a": "cancelled", "b": "cancelled", "c": "cancelled"}


@pytest.mark.parametrize(("body", "fields"), [
    ({"action": "explode", "ids": [1]}, {"action"}),
    ({"action": "cancel"}, {"ids"}),
    ({"action": "cancel", "ids": [1], "filter": {}}, {"ids"}),
    ({"action": "cancel", "ids": "1"}, {"ids"}),
    ({"action": "cancel", "ids": [True]}, {"ids"}),
    ({"action": "cancel", "ids": list(range(1, 10_002))}, {"ids"}),
    ({"action": "cancel", "filter": {"status": "sleeping"}}, {"filter.status"}),
    ({"action": "cancel", "filter": {"colour": "red"}}, {"filter.colour"}),
    ({"action": "cancel", "filter": {"task": 5}}, {"filter.task"}),
    ({"action": "cancel", "filter": []}, {"filter"}),
    ({"action": "cancel", "ids": [1], "more": 1}, {"more"}),
])
def test_a_bad_body_is_400_naming_the_fields_and_changes_nothing(app, alice, body, fields):
    job = alice.create()
    assert set(alice.post(BULK, 400, json=body)["errors"]) == fields
    assert job_row(app, job["id"]).status == "pending"


def test_cancelling_many_jobs_is_one_call(app, alice):
    created = alice.post("/jobs/batch/", 201,
                         json={"jobs": [{"name": f"j{i}"} for i in range(1000)]})["items"]
    result = alice.post(BULK, json={"action": "cancel", "filter": {"status": "pending"}})
    assert result == {"matched": 1000, "changed": 1000, "skipped": 0}
    assert job_row(app, created[-1]["id"]).status == "cancelled"
