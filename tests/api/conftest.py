"""API test helpers: JSON clients per identity, job factories, a recording event sink."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from jobsched.auth.service import find_user
from jobsched.extensions import db
from jobsched.models import Execution, Job, User
from jobsched.runtime import add_audience, event_sink
from jobsched.scheduler.clock import utcnow
from tests.conftest import PASSWORD, make_token
from tests.helpers import RecordingSink

BASE = "/jobs/api"


class ApiClient:
    """Calls /jobs/api as one identity; every call asserts its status and the JSON type."""

    def __init__(self, client: FlaskClient, token: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        self.client = client
        self.app = client.application
        self.token = token
        self.headers = dict(headers or {})
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, status: int, **kwargs: Any) -> Any:
        """`method` `path` (relative to /jobs/api); the decoded JSON body (None for 204)."""
        headers = {**self.headers, **kwargs.pop("headers", {})}
        response = self.client.open(BASE + path, method=method, headers=headers, **kwargs)
        body = response.get_data(as_text=True)
        assert response.status_code == status, f"{method} {path}: {response.status_code} {body}"
        self.last = response
        if status == 204:
            assert body == ""
            return None
        assert response.mimetype == "application/json", f"{method} {path}: {response.mimetype}"
        return response.get_json()

    def get(self, path: str, status: int = 200, **kwargs: Any) -> Any:
        return self.call("GET", path, status, **kwargs)

    def post(self, path: str, status: int = 200, **kwargs: Any) -> Any:
        return self.call("POST", path, status, **kwargs)

    def put(self, path: str, status: int = 200, **kwargs: Any) -> Any:
        return self.call("PUT", path, status, **kwargs)

    def patch(self, path: str, status: int = 200, **kwargs: Any) -> Any:
        return self.call("PATCH", path, status, **kwargs)

    def delete(self, path: str, status: int = 204, **kwargs: Any) -> Any:
        return self.call("DELETE", path, status, **kwargs)

    def create(self, status: int = 201, **fields: Any) -> Any:
        """POST a job (name defaults to "job")."""
        return self.post("/jobs/", status, json={"name": "job", **fields})


@pytest.fixture
def quiet_audiences(app: Flask) -> None:
    """No Socket.IO sink here: these tests look at the API, and that sink's background
    thread would otherwise still be querying the database while the app fixture empties it
    (tests/realtime covers it)."""
    event_sink(app).sinks.clear()


@pytest.fixture
def events(app: Flask) -> RecordingSink:
    """Every fact the app publishes, in order."""
    sink = RecordingSink()
    add_audience(app, sink)
    return sink


@cache
def cheap_hash() -> str:
    """PASSWORD hashed with one PBKDF2 round: these tests are not about hashing, and the
    real cost, paid three times per test, would dominate the suite's run time."""
    return generate_password_hash(PASSWORD, method="pbkdf2:sha256:1")


def quick_user(app: Flask, username: str, admin: bool = False) -> int:
    """A user whose password is PASSWORD, created without the slow hash."""
    with app.app_context():
        user = User(username=username, email=f"{username}@example.com", is_admin=admin,
                    password_hash=cheap_hash())
        db.session.add(user)
        db.session.commit()
        return user.id


@pytest.fixture
def accounts(app: Flask, quiet_audiences: None) -> dict[str, str]:
    """Three accounts and a token each: an admin, and two ordinary users."""
    quick_user(app, "root", admin=True)
    quick_user(app, "alice")
    quick_user(app, "bob")
    return {name: make_token(app, name) for name in ("root", "alice", "bob")}


@pytest.fixture
def alice(app: Flask, accounts: dict[str, str]) -> ApiClient:
    return ApiClient(app.test_client(), accounts["alice"])


@pytest.fixture
def bob(app: Flask, accounts: dict[str, str]) -> ApiClient:
    return ApiClient(app.test_client(), accounts["bob"])


@pytest.fixture
def root(app: Flask, accounts: dict[str, str]) -> ApiClient:
    return ApiClient(app.test_client(), accounts["root"])


@pytest.fixture
def anon(app: Flask, quiet_audiences: None) -> ApiClient:
    return ApiClient(app.test_client())


def set_job(app: Flask, job_id: int, **values: Any) -> None:
    """Write job columns directly, as the scheduler would."""
    with app.app_context():
        job = db.session.get(Job, job_id)
        for key, value in values.items():
            setattr(job, key, value)
        db.session.commit()


def make_running(app: Flask, job_id: int, node: str = "node-1") -> str:
    """Put a job in the state a scheduler's claim leaves it in; returns its lease token."""
    token = str(uuid.uuid4())
    now = utcnow()
    with app.app_context():
        job = db.session.get(Job, job_id)
        job.status, job.attempts, job.node = "running", job.attempts + 1, node
        job.lease_token, job.started_at = token, now
        job.lease_expires_at = now + timedelta(seconds=30)
        db.session.add(Execution(job_id=job_id, attempt=job.attempts, status="running",
                                 node=node, lease_token=token, started_at=now))
        db.session.commit()
    return token


def add_execution(app: Flask, job_id: int, attempt: int, status: str,
                  started_at: datetime | None = None, **values: Any) -> None:
    with app.app_context():
        db.session.add(Execution(job_id=job_id, attempt=attempt, status=status, node="node-1",
                                 started_at=started_at or utcnow(), **values))
        db.session.commit()


def executions_of(app: Flask, job_id: int) -> list[Execution]:
    with app.app_context():
        rows = db.session.scalars(
            select(Execution).where(Execution.job_id == job_id).order_by(Execution.id)).all()
        db.session.expunge_all()
        return list(rows)


def user_id(app: Flask, username: str) -> int:
    with app.app_context():
        return find_user(db.session, username).id


def job_row(app: Flask, job_id: int) -> Job | None:
    with app.app_context():
        job = db.session.get(Job, job_id)
        if job is not None:
            db.session.expunge(job)
        return job
