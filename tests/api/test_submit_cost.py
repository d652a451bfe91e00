"""POST /jobs/api/jobs/ with a token: what it sends to the database, and what it answers."""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import event

from jobsched.extensions import db

from .conftest import ApiClient


@pytest.fixture
def statements(app: Flask) -> Iterator[list[str]]:
    """The SQL this thread sends from now on (the test client serves requests in it; a
    sink's background thread is left out)."""
    sent: list[str] = []
    me = threading.get_ident()

    def record(conn, cursor, statement, *args) -> None:
        if threading.get_ident() == me:
            sent.append(" ".join(statement.split()))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    yield sent
    event.remove(engine, "before_cursor_execute", record)


def test_a_submit_is_one_token_read_one_quota_read_and_one_insert(backend, alice: ApiClient,
                                                                   statements):
    alice.create()  # the token's first use records last_used_at; later ones do not write
    statements.clear()
    alice.create(name="second")
    selects = [s for s in statements if s.startswith("SELECT")]
    inserts = [s for s in statements if s.startswith("INSERT")]
    # PostgreSQL first takes the owner's quota lock: a statement of its own, since a count
    # in the same statement would read a snapshot taken before the lock was granted.
    locks = [s for s in selects if "pg_advisory_xact_lock" in s]
    assert len(locks) == (1 if backend == "postgres" else 0)
    selects = [s for s in selects if s not in locks]
    assert len(selects) == 2 and "api_tokens" in selects[0] and "users" in selects[0]
    assert "job_counts" in selects[1] and "max_pending" in selects[1]  # SPEC §10 quota
    assert len(inserts) == 1 and inserts[0].startswith("INSERT INTO jobs")
    assert "RETURNING" in inserts[0]  # the answer comes from the insert, not a re-read
    assert not [s for s in statements if s.startswith(("UPDATE", "DELETE"))]


def test_the_answer_is_the_job_as_stored(alice: ApiClient):
    # PostgreSQL's JSONB stores 1e20 as the number 100000000000000000000: the answer to the
    # POST must show the args as every later read will.
    created = alice.create(task="echo", args={"message": {"big": 1e20, "small": 0.5}})
    fetched = alice.get(f"/jobs/{created['id']}/")
    assert json.dumps(created, sort_keys=True) == json.dumps(fetched, sort_keys=True)


def test_refused_submits_leave_the_next_one_working(alice: ApiClient):
    alice.create(task="nope", status=400)
    alice.create(max_attempts=0, status=400)
    job = alice.create(name="after refusals")
    assert alice.get(f"/jobs/{job['id']}/")["name"] == "after refusals"
