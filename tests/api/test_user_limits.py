"""GET/PUT /jobs/api/users/{username}/limits (SPEC §10): an admin sets one user's own limits;
null means the deployment's default."""
from __future__ import annotations

import psycopg2
import pytest

from jobsched.auth.service import find_user
from jobsched.extensions import db
from jobsched.scheduler.limits import MAX_PENDING_PER_USER_RANGE, MAX_RUNNING_PER_USER_RANGE
from jobsched.storage.listener import CHANNEL, libpq_dsn
from tests.helpers import wait_until

DEFAULTS = {"max_running": None, "max_pending": None, "may_use_high": None}
BAD = [
    ("max_running", MAX_RUNNING_PER_USER_RANGE[0] - 1),
    ("max_running", MAX_RUNNING_PER_USER_RANGE[1] + 1),
    ("max_running", "3"), ("max_running", 1.5), ("max_running", True), ("max_running", [1]),
    ("max_pending", MAX_PENDING_PER_USER_RANGE[0] - 1),
    ("max_pending", MAX_PENDING_PER_USER_RANGE[1] + 1), ("max_pending", {"n": 1}),
    ("may_use_high", "yes"), ("may_use_high", 1), ("may_use_high", 0),
    ("owner", "x"), ("max_concurrent", 3),
]


def test_a_user_starts_with_every_limit_at_the_default(root, accounts):
    assert root.get("/users/alice/limits") == DEFAULTS


def test_put_sets_the_limits_and_answers_them(root, alice):
    limits = {"max_running": 2, "max_pending": 50, "may_use_high": False}
    assert root.put("/users/alice/limits", json=limits) == limits
    assert root.get("/users/ALICE/limits") == limits  # usernames are case-insensitive


def test_put_takes_a_subset_and_null_restores_the_default(root, alice):
    root.put("/users/alice/limits", json={"max_running": 2, "max_pending": 50})
    assert root.put("/users/alice/limits", json={"may_use_high": True}) == {
        "max_running": 2, "max_pending": 50, "may_use_high": True}
    assert root.put("/users/alice/limits", json={"max_pending": None}) == {
        "max_running": 2, "max_pending": None, "may_use_high": True}
    assert root.put("/users/alice/limits", json={}) == {
        "max_running": 2, "max_pending": None, "may_use_high": True}


def test_the_bounds_themselves_are_accepted(root, alice):
    for running, pending in zip(MAX_RUNNING_PER_USER_RANGE, MAX_PENDING_PER_USER_RANGE,
                                strict=True):
        body = {"max_running": running, "max_pending": pending}
        assert root.put("/users/alice/limits", json=body) == {**body, "may_use_high": None}


@pytest.mark.parametrize(("field", "value"), BAD, ids=repr)
def test_a_bad_value_is_a_400_naming_the_field_and_changes_nothing(root, alice, field, value):
    root.put("/users/alice/limits", json={"max_running": 4})
    valid = {"max_pending": 7} if field == "may_use_high" else {"may_use_high": True}
    error = root.put("/users/alice/limits", 400, json={**valid, field: value})
    assert set(error["errors"]) == {field}, error
    assert root.get("/users/alice/limits") == {**DEFAULTS, "max_running": 4}


@pytest.mark.parametrize("body", ["[]", "null", "3", "{"])
def test_a_body_that_is_no_object_is_a_400(root, alice, body):
    root.put("/users/alice/limits", 400, data=body, content_type="application/json")


def test_an_unknown_user_is_a_404(root):
    assert "nobody" in root.get("/users/nobody/limits", 404)["message"]
    root.put("/users/nobody/limits", 404, json={"max_running": 1})


def test_non_admins_get_403_even_for_unknown_users(alice, bob):
    for path in ("/users/bob/limits", "/users/alice/limits", "/users/nobody/limits"):
        alice.get(path, 403)
        alice.put(path, 403, json={"max_pending": 10**6})
    assert bob.create()  # alice changed nothing


def test_anonymous_callers_get_401(anon, accounts):
    anon.get("/users/alice/limits", 401)
    anon.put("/users/alice/limits", 401, json={"max_running": 1})


def test_an_admins_limit_is_what_the_quota_uses(root, alice):
    root.put("/users/alice/limits", json={"max_pending": 1})
    alice.create()
    assert set(alice.post("/jobs/", 429, json={"name": "j"})["errors"]) == {"quota"}
    root.put("/users/alice/limits", json={"max_pending": None})
    alice.create()


def test_the_limits_are_documented(anon):
    spec = anon.get("/swagger.json")
    operations = spec["paths"]["/users/{username}/limits"]
    assert {"get", "put"} <= set(operations)
    assert set(spec["definitions"]["UserLimitsIn"]["properties"]) == set(DEFAULTS)
    assert {"403", "404"} <= set(operations["put"]["responses"])


# PostgreSQL only: SQLite has no NOTIFY (its one scheduler finds out at its next reconcile).
@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_a_new_cap_is_announced_to_the_schedulers_at_commit(app, root, alice):
    """A `limits:<id>` notification, which every scheduler's heap takes as a freed slot of
    that user (tests/store/test_listener.py)."""
    listen = psycopg2.connect(libpq_dsn(app.config["SQLALCHEMY_DATABASE_URI"]))
    listen.autocommit = True
    try:
        listen.cursor().execute(f"LISTEN {CHANNEL}")
        root.put("/users/alice/limits", json={"max_pending": 5})  # not a running cap
        root.put("/users/alice/limits", json={"max_running": 2})
        with app.app_context():
            alice_id = find_user(db.session, "alice").id
        wait_until(lambda: listen.poll() or any(
            n.payload == f"limits:{alice_id}" for n in listen.notifies), timeout=5)
        assert [n.payload for n in listen.notifies if n.payload.startswith("limits:")] == [
            f"limits:{alice_id}"]
    finally:
        listen.close()
