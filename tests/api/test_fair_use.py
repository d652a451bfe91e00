"""Fair use on the way in (SPEC §10): the pending quota, the submission rate and the high
priority policy, over the API, each refusal storing nothing."""
from __future__ import annotations

import threading

import pytest

from jobsched.extensions import db
from jobsched.models import Job, User
from tests.api.conftest import ApiClient, job_row, set_job, user_id


def pending_of(app, username: str) -> int:
    with app.app_context():
        owner = user_id(app, username)
        return db.session.query(Job).filter_by(owner_id=owner, status="pending").count()


def set_user(app, username: str, **values) -> None:
    with app.app_context():
        user = db.session.get(User, user_id(app, username))
        for key, value in values.items():
            setattr(user, key, value)
        db.session.commit()


# -- the pending quota ------------------------------------------------------------------------

QUOTA = {"JOBSCHED_MAX_PENDING_PER_USER": 2}


@pytest.mark.parametrize("app_overrides", [QUOTA])
def test_a_create_past_the_pending_quota_is_a_429_and_stores_nothing(app, alice, bob):
    alice.create(), alice.create()
    error = alice.post("/jobs/", 429, json={"name": "third"})
    assert set(error["errors"]) == {"quota"} and "2" in error["errors"]["quota"]
    assert error["message"]
    assert pending_of(app, "alice") == 2
    assert alice.get("/jobs/")["total"] == 2
    bob.create()  # one owner's quota never holds back another's


@pytest.mark.parametrize("app_overrides", [QUOTA])
def test_jobs_that_left_the_queue_free_the_quota(app, alice):
    first, second = alice.create(), alice.create()
    alice.post(f"/jobs/{first['id']}/cancel/")
    set_job(app, second["id"], status="completed")
    alice.create(), alice.create()
    alice.post("/jobs/", 429, json={"name": "over"})


@pytest.mark.parametrize("app_overrides", [QUOTA])
def test_a_retry_past_the_quota_is_a_429_and_the_job_stays_as_it_was(app, alice):
    job = alice.create()
    alice.post(f"/jobs/{job['id']}/cancel/")
    alice.create(), alice.create()
    error = alice.post(f"/jobs/{job['id']}/retry/", 429)
    assert set(error["errors"]) == {"quota"}
    assert job_row(app, job["id"]).status == "cancelled"


@pytest.mark.parametrize("app_overrides", [QUOTA])
def test_an_admin_retrying_counts_against_the_owners_quota(app, alice, root):
    job = alice.create()
    alice.post(f"/jobs/{job['id']}/cancel/")
    alice.create(), alice.create()
    assert set(root.post(f"/jobs/{job['id']}/retry/", 429)["errors"]) == {"quota"}
    root.create(), root.create()  # the admin's own quota is untouched


@pytest.mark.parametrize("app_overrides", [QUOTA])
def test_a_users_own_max_pending_wins_over_the_default(app, alice, bob):
    set_user(app, "alice", max_pending=3)
    set_user(app, "bob", max_pending=1)
    for _ in range(3):
        alice.create()
    alice.post("/jobs/", 429, json={"name": "j"})
    bob.create()
    assert "1" in bob.post("/jobs/", 429, json={"name": "j"})["errors"]["quota"]


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
@pytest.mark.parametrize("app_overrides", [{"JOBSCHED_MAX_PENDING_PER_USER": 5}])
def test_concurrent_creates_store_exactly_the_quota(app, accounts, alice):
    """20 creates at once on separate connections: exactly 5 stored, 15 refused (a count,
    then insert, without the owner's lock would let several see "4 pending")."""
    alice.create(), alice.create(), alice.create()  # two places left
    statuses: list[int] = []
    start = threading.Barrier(20)

    def create() -> None:
        client = app.test_client()
        start.wait()
        response = client.post("/jobs/api/jobs/", json={"name": "racer"},
                               headers={"Authorization": f"Bearer {accounts['alice']}"})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=create) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201] * 2 + [429] * 18
    assert pending_of(app, "alice") == 5


# -- the submission rate ----------------------------------------------------------------------

RATE = {"JOBSCHED_SUBMIT_RATE": "3/minute"}


@pytest.mark.parametrize("app_overrides", [RATE])
def test_creates_past_the_rate_are_a_429_with_retry_after(app, alice, bob):
    for _ in range(3):
        alice.create()
    error = alice.post("/jobs/", 429, json={"name": "fourth"})
    assert set(error["errors"]) == {"rate"} and "3/minute" in error["errors"]["rate"]
    assert 1 <= int(alice.last.headers["Retry-After"]) <= 60
    assert alice.get("/jobs/")["total"] == 3
    bob.create()  # counted per user


@pytest.mark.parametrize("app_overrides", [RATE])
def test_refused_creates_do_not_count_against_the_rate(app, alice):
    alice.post("/jobs/", 400, json={"name": ""})
    alice.post("/jobs/", 400, json={"name": "j", "task": "nope"})
    for _ in range(3):
        alice.create()
    alice.post("/jobs/", 429, json={"name": "j"})


@pytest.mark.parametrize("app_overrides", [RATE])
def test_the_rate_counts_per_user_not_per_token(app, accounts, alice):
    from tests.conftest import make_token

    other = ApiClient(app.test_client(), make_token(app, "alice"))
    alice.create(), other.create(), alice.create()
    other.post("/jobs/", 429, json={"name": "j"})


def test_without_a_rate_there_is_no_limit(app, alice):
    assert app.config["JOBSCHED_SUBMIT_RATE"] is None
    for _ in range(12):
        alice.create()


# -- high priority ----------------------------------------------------------------------------

ADMINS = {"JOBSCHED_HIGH_PRIORITY": "admins"}


@pytest.mark.parametrize("app_overrides", [ADMINS])
def test_high_priority_for_admins_only_refuses_others_with_403(app, alice, root):
    error = alice.post("/jobs/", 403, json={"name": "urgent", "priority": "high"})
    assert set(error["errors"]) == {"priority"} and error["message"]
    assert alice.get("/jobs/")["total"] == 0
    assert alice.create(priority="medium")["priority"] == "medium"
    assert root.create(priority="high")["priority"] == "high"


@pytest.mark.parametrize("app_overrides", [ADMINS])
def test_raising_a_job_to_high_is_refused_too(app, alice, root):
    job = alice.create(priority="low")
    for method in (alice.put, alice.patch):
        error = method(f"/jobs/{job['id']}/", 403, json={"priority": "high"})
        assert set(error["errors"]) == {"priority"}
    assert job_row(app, job["id"]).priority == "low"
    assert alice.patch(f"/jobs/{job['id']}/", json={"name": "renamed"})["name"] == "renamed"
    assert root.patch(f"/jobs/{job['id']}/", json={"priority": "high"})["priority"] == "high"


@pytest.mark.parametrize("app_overrides", [ADMINS])
def test_a_user_allowed_high_may_use_it(app, alice):
    set_user(app, "alice", may_use_high=True)
    assert alice.create(priority="high")["priority"] == "high"


def test_by_default_everyone_may_use_high_unless_their_own_setting_says_no(app, alice, bob):
    assert alice.create(priority="high")["priority"] == "high"
    set_user(app, "bob", may_use_high=False)
    assert set(bob.post("/jobs/", 403, json={"name": "j", "priority": "high"})["errors"]) \
        == {"priority"}


@pytest.mark.parametrize("app_overrides", [ADMINS])
def test_an_admin_is_never_refused_high(app, root):
    set_user(app, "root", may_use_high=False)
    assert root.create(priority="high")["priority"] == "high"
