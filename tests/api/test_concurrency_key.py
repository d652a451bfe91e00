"""A job's concurrency key and limit over the API (SPEC §10): in every job answer, set on
create, changed on a pending job, and every bad value a 400 naming the field, storing nothing."""
from __future__ import annotations

import pytest

from jobsched.scheduler.limits import (
    CONCURRENCY_KEY_MAX,
    CONCURRENCY_LIMIT_MAX,
    CONCURRENCY_LIMIT_MIN,
    DEFAULT_CONCURRENCY_LIMIT,
)
from tests.api.conftest import job_row, make_running

BAD_KEYS = ["", "   ", " \t\n ", "k" * (CONCURRENCY_KEY_MAX + 1),
            " " + "k" * (CONCURRENCY_KEY_MAX + 1) + " ", 5, 1.5, True, ["deploy"],
            {"key": "deploy"}, "deploy\x00prod", "deploy\ud800"]
BAD_LIMITS = [CONCURRENCY_LIMIT_MIN - 1, CONCURRENCY_LIMIT_MAX + 1, -1, 10**30, 1.5, "2", "",
              True, False, None, [1], {"n": 1}]


def test_a_new_job_has_no_key_and_the_default_limit(alice):
    job = alice.create()
    assert (job["concurrency_key"], job["concurrency_limit"]) == (None, DEFAULT_CONCURRENCY_LIMIT)
    assert alice.get(f"/jobs/{job['id']}/")["concurrency_key"] is None


def test_create_takes_a_key_stripped_and_a_limit(app, alice):
    job = alice.create(concurrency_key="  deploy-prod \t", concurrency_limit=2)
    assert (job["concurrency_key"], job["concurrency_limit"]) == ("deploy-prod", 2)
    stored = job_row(app, job["id"])
    assert (stored.concurrency_key, stored.concurrency_limit) == ("deploy-prod", 2)


def test_the_bounds_themselves_are_accepted(alice):
    longest = "ключ" * (CONCURRENCY_KEY_MAX // 4)
    job = alice.create(concurrency_key=longest, concurrency_limit=CONCURRENCY_LIMIT_MAX)
    assert (job["concurrency_key"], job["concurrency_limit"]) == (longest,
                                                                  CONCURRENCY_LIMIT_MAX)
    job = alice.create(concurrency_key="k", concurrency_limit=CONCURRENCY_LIMIT_MIN)
    assert (job["concurrency_key"], job["concurrency_limit"]) == ("k", CONCURRENCY_LIMIT_MIN)


def test_an_explicit_null_key_means_no_key(alice):
    assert alice.create(concurrency_key=None)["concurrency_key"] is None


def test_a_limit_without_a_key_is_kept(alice):
    """The two are set independently (a key may come in a later change)."""
    job = alice.create(concurrency_limit=3)
    assert (job["concurrency_key"], job["concurrency_limit"]) == (None, 3)


def test_every_job_answer_carries_both(app, alice):
    job = alice.create(concurrency_key="deploy", concurrency_limit=4)
    pair = {"concurrency_key": "deploy", "concurrency_limit": 4}
    [listed] = alice.get("/jobs/")["items"]
    assert {k: listed[k] for k in pair} == pair
    assert {k: alice.get(f"/jobs/{job['id']}/")[k] for k in pair} == pair
    cancelled = alice.post(f"/jobs/{job['id']}/cancel/")
    assert {k: cancelled[k] for k in pair} == pair
    retried = alice.post(f"/jobs/{job['id']}/retry/")
    assert {k: retried[k] for k in pair} == pair


@pytest.mark.parametrize("key", BAD_KEYS, ids=repr)
def test_a_bad_key_on_create_is_a_400_naming_it_and_stores_nothing(alice, key):
    error = alice.post("/jobs/", 400, json={"name": "j", "concurrency_key": key})
    assert set(error["errors"]) == {"concurrency_key"}, error
    assert error["message"]
    assert alice.get("/jobs/")["total"] == 0


@pytest.mark.parametrize("limit", BAD_LIMITS, ids=repr)
def test_a_bad_limit_on_create_is_a_400_naming_it_and_stores_nothing(alice, limit):
    error = alice.post("/jobs/", 400, json={"name": "j", "concurrency_key": "deploy",
                                            "concurrency_limit": limit})
    assert set(error["errors"]) == {"concurrency_limit"}, error
    assert alice.get("/jobs/")["total"] == 0


def test_a_blank_key_is_explained(alice):
    error = alice.post("/jobs/", 400, json={"name": "j", "concurrency_key": "   "})
    assert error["errors"] == {
        "concurrency_key": f"Use 1–{CONCURRENCY_KEY_MAX} characters, or null for no key."}


def test_both_bad_at_once_are_both_named(alice):
    error = alice.post("/jobs/", 400, json={"name": "j", "concurrency_key": "",
                                            "concurrency_limit": 0})
    assert {"concurrency_key", "concurrency_limit"} <= set(error["errors"])


# --- update ---------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["put", "patch"])
def test_a_pending_jobs_key_and_limit_can_be_changed_and_the_key_cleared(app, alice, method):
    job = alice.create(name="deploy", description="keep")
    change = getattr(alice, method)
    changed = change(f"/jobs/{job['id']}/", json={"concurrency_key": " deploy-prod ",
                                                  "concurrency_limit": 5})
    assert (changed["concurrency_key"], changed["concurrency_limit"]) == ("deploy-prod", 5)
    assert changed["description"] == "keep"
    limit_only = change(f"/jobs/{job['id']}/", json={"concurrency_limit": 2})
    assert (limit_only["concurrency_key"], limit_only["concurrency_limit"]) == ("deploy-prod", 2)
    cleared = change(f"/jobs/{job['id']}/", json={"concurrency_key": None})
    assert (cleared["concurrency_key"], cleared["concurrency_limit"]) == (None, 2)
    assert job_row(app, job["id"]).concurrency_key is None
    assert alice.get(f"/jobs/{job['id']}/") == cleared


@pytest.mark.parametrize("body", [
    *({"concurrency_key": key} for key in BAD_KEYS),
    *({"concurrency_limit": limit} for limit in BAD_LIMITS),
], ids=repr)
def test_a_bad_change_is_a_400_naming_the_field_and_changes_nothing(alice, body):
    job = alice.create(concurrency_key="deploy", concurrency_limit=3)
    error = alice.put(f"/jobs/{job['id']}/", 400, json={**body, "name": "renamed"})
    assert set(error["errors"]) == set(body), error
    assert alice.get(f"/jobs/{job['id']}/") == job


def test_only_a_pending_jobs_key_can_be_changed(app, alice):
    job = alice.create(concurrency_key="deploy")
    make_running(app, job["id"])
    alice.patch(f"/jobs/{job['id']}/", 409, json={"concurrency_key": "other"})
    assert alice.get(f"/jobs/{job['id']}/")["concurrency_key"] == "deploy"

