"""Batch submission (SPEC §13): 1–1000 jobs in one transaction, all or nothing, errors keyed
by index; quotas, the submission rate and unique keys over the whole batch."""
from __future__ import annotations

import pytest

from tests.api.conftest import job_row

JOBS = "/jobs/batch/"


def names(client) -> list[str]:
    return sorted(job["name"] for job in client.get("/jobs/?per_page=200")["items"])


def test_a_batch_creates_every_job_in_order(app, alice):
    sent = [{"name": f"j{i}", "task": "echo", "args": {"message": i}} for i in range(5)]
    sent.append({"name": "last", "priority": "high", "unique_key": "k"})
    created = alice.post(JOBS, 201, json={"jobs": sent})["items"]
    assert [job["name"] for job in created] == [job["name"] for job in sent]
    assert created[0]["args"] == {"message": 0} and created[-1]["priority"] == "high"
    assert created[-1]["unique_key"] == "k" and created[0]["depends_on"] == []
    assert len({job["id"] for job in created}) == 6
    assert alice.get(f"/jobs/{created[2]['id']}/")["owner"] == "alice"


def test_one_bad_item_stores_nothing_and_every_problem_is_keyed_by_index(app, alice):
    sent = [{"name": "ok"}, {"name": "x", "task": "sleep", "args": {"seconds": -1}},
            {"task": "nope"}, "not an object", {"name": "y", "colour": "red"}]
    refused = alice.post(JOBS, 400, json={"jobs": sent})
    assert set(refused["errors"]) == {"jobs[1].args.seconds", "jobs[2].name", "jobs[3]",
                                      "jobs[4].colour"}
    assert names(alice) == []


@pytest.mark.parametrize("body", [{"jobs": []}, {"jobs": [{"name": "j"}] * 1001},
                                  {"jobs": {"name": "j"}}, {}, {"jobs": [], "more": 1}, [1]])
def test_a_batch_that_is_not_a_list_of_1_to_1000_is_400(app, alice, body):
    alice.post(JOBS, 400, json=body)
    assert names(alice) == []


def test_a_batch_of_1000_is_created(app, alice):
    created = alice.post(JOBS, 201, json={"jobs": [{"name": f"j{i}"} for i in range(1000)]})
    assert len(created["items"]) == 1000 and alice.get("/jobs/")["total"] == 1000


@pytest.mark.parametrize("app_overrides", [{"JOBSCHED_MAX_PENDING_PER_USER": 3}])
def test_the_pending_quota_counts_the_whole_batch(app, alice):
    alice.create()
    alice.post(JOBS, 429, json={"jobs": [{"name": "a"}, {"name": "b"}, {"name": "c"}]})
    assert names(alice) == ["job"]
    alice.post(JOBS, 201, json={"jobs": [{"name": "a"}, {"name": "b"}]})


@pytest.mark.parametrize("app_overrides", [{"JOBSCHED_SUBMIT_RATE": "3/minute"}])
def test_the_submission_rate_counts_every_job_of_the_batch(app, alice):
    alice.post(JOBS, 201, json={"jobs": [{"name": "a"}, {"name": "b"}]})
    alice.post(JOBS, 429, json={"jobs": [{"name": "c"}, {"name": "d"}]})
    alice.create(name="e")
    assert names(alice) == ["a", "b", "e"]


def test_unique_keys_may_not_repeat_in_a_batch_nor_be_held(app, alice):
    refused = alice.post(JOBS, 400, json={"jobs": [
        {"name": "a", "unique_key": "k"}, {"name": "b"}, {"name": "c", "unique_key": "k"}]})
    assert refused["errors"] == {"jobs[2].unique_key": "The same key as jobs[0]."}
    holder = alice.create(unique_key="k")
    held = alice.post(JOBS, 409, json={"jobs": [{"name": "a", "unique_key": "free"},
                                                {"name": "b", "unique_key": "k"}]})
    assert held["existing_id"] == holder["id"] and set(held["errors"]) == {"jobs[1].unique_key"}
    assert names(alice) == ["job"]


@pytest.mark.parametrize("app_overrides", [{"JOBSCHED_HIGH_PRIORITY": "admins"}])
def test_a_high_priority_refused_is_403_naming_the_item(app, alice):
    refused = alice.post(JOBS, 403, json={"jobs": [{"name": "a"}, {"name": "b",
                                                                   "priority": "high"}]})
    assert set(refused["errors"]) == {"jobs[1].priority"}
    assert names(alice) == []


def test_dependencies_in_a_batch_are_checked_per_item(app, alice, bob):
    parent = alice.create()
    created = alice.post(JOBS, 201, json={"jobs": [{"name": "a", "depends_on": [parent["id"]]},
                                                   {"name": "b"}]})["items"]
    assert created[0]["depends_on"] == [parent["id"]]
    assert job_row(app, created[0]["id"]).waiting_on == 1
    bobs = bob.create()
    refused = alice.post(JOBS, 400, json={"jobs": [{"name": "c"},
                                                   {"name": "d", "depends_on": [bobs["id"]]}]})
    assert refused["errors"] == {"jobs[1].depends_on": f"Job {bobs['id']} not found."}
