"""Unique jobs over the API (SPEC §12): one pending-or-running job per owner and unique_key,
409 with the holder's id, nothing stored; exactly one under concurrent creates."""
from __future__ import annotations

import threading

import pytest

from jobsched.extensions import db
from jobsched.models import Job
from tests.api.conftest import job_row, make_running, set_job, user_id


def jobs_of(app, username: str) -> int:
    with app.app_context():
        return db.session.query(Job).filter_by(owner_id=user_id(app, username)).count()


def test_a_second_create_with_a_held_key_is_409_naming_the_holder_and_stores_nothing(
        app, alice):
    first = alice.create(unique_key=" nightly ")
    assert first["unique_key"] == "nightly"
    refused = alice.post("/jobs/", 409, json={"name": "again", "unique_key": "nightly"})
    assert refused["existing_id"] == first["id"]
    assert set(refused["errors"]) == {"unique_key"} and str(first["id"]) in refused["message"]
    assert jobs_of(app, "alice") == 1


def test_a_running_holder_keeps_the_key_and_a_finished_one_frees_it(app, alice):
    first = alice.create(unique_key="k")
    make_running(app, first["id"])
    assert alice.post("/jobs/", 409, json={"name": "j", "unique_key": "k"})[
        "existing_id"] == first["id"]
    set_job(app, first["id"], status="completed", lease_token=None)
    second = alice.create(unique_key="k")
    assert second["id"] != first["id"]


def test_keys_are_per_owner_and_jobs_without_a_key_never_clash(app, alice, bob):
    alice.create(unique_key="k")
    bob.create(unique_key="k")
    alice.create(), alice.create()
    assert jobs_of(app, "alice") == 3


def test_a_retry_into_a_held_key_is_409_and_the_job_stays_as_it_was(app, alice):
    old = alice.create(unique_key="k")
    alice.post(f"/jobs/{old['id']}/cancel/")
    holder = alice.create(unique_key="k")
    refused = alice.post(f"/jobs/{old['id']}/retry/", 409)
    assert refused["existing_id"] == holder["id"]
    assert job_row(app, old["id"]).status == "cancelled"
    alice.post(f"/jobs/{holder['id']}/cancel/")
    assert alice.post(f"/jobs/{old['id']}/retry/")["status"] == "pending"


@pytest.mark.parametrize("key", ["", "   ", "x" * 201, 5])
def test_a_bad_unique_key_is_400_naming_it(app, alice, key):
    assert "unique_key" in alice.post("/jobs/", 400, json={"name": "j", "unique_key": key})[
        "errors"]
    assert jobs_of(app, "alice") == 0


def test_the_unique_key_is_set_at_creation_only(app, alice):
    job = alice.create(unique_key="k")
    assert "unique_key" in alice.patch(f"/jobs/{job['id']}/", 400,
                                       json={"unique_key": "other"})["errors"]


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
def test_sixteen_concurrent_creates_with_one_key_make_exactly_one_job(app, accounts, alice):
    """On separate connections at once: the partial unique index lets exactly one in."""
    statuses: list[int] = []
    holders: list[int] = []
    start = threading.Barrier(16)

    def create() -> None:
        client = app.test_client()
        start.wait()
        response = client.post("/jobs/api/jobs/", json={"name": "racer", "unique_key": "once"},
                               headers={"Authorization": f"Bearer {accounts['alice']}"})
        statuses.append(response.status_code)
        body = response.get_json()
        holders.append(body["id"] if response.status_code == 201 else body["existing_id"])

    threads = [threading.Thread(target=create) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201] + [409] * 15
    assert len(set(holders)) == 1 and jobs_of(app, "alice") == 1
