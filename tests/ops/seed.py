"""Rows for the operations tests, written straight to the database through the models."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from jobsched.extensions import db
from jobsched.models import Execution, Job, SchedulerNode
from jobsched.scheduler.clock import utcnow

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def add_job(app: Flask, owner_id: int, **fields: Any) -> int:
    """A job with `fields` (status, times...) as given; returns its id."""
    values: dict[str, Any] = {"name": "job", "task": "echo", "args": {"message": "hi"}}
    values.update(fields)
    with app.app_context():
        job = Job(owner_id=owner_id, **values)
        db.session.add(job)
        db.session.commit()
        return job.id


def finished_job(app: Flask, owner_id: int, status: str, age: timedelta, **fields: Any) -> int:
    """A job that finished `age` ago, with one execution that ended the same way."""
    finished = utcnow() - age
    job_id = add_job(app, owner_id, status=status, attempts=1, started_at=finished,
                     finished_at=finished, created_at=finished - timedelta(minutes=1), **fields)
    outcome = {"completed": "completed", "failed": "failed"}.get(status, "cancelled")
    add_execution(app, job_id, outcome, started_at=finished, finished_at=finished)
    return job_id


def add_execution(app: Flask, job_id: int, status: str, **fields: Any) -> int:
    """An execution record of a job."""
    with app.app_context():
        execution = Execution(job_id=job_id, attempt=1, status=status, node="seed", **fields)
        db.session.add(execution)
        db.session.commit()
        return execution.id


def add_node(app: Flask, name: str, status: str, expires_in: timedelta) -> None:
    """A scheduler_nodes row whose lease ends `expires_in` from now (negative: expired)."""
    now = utcnow()
    with app.app_context():
        db.session.add(SchedulerNode(
            name=name, hostname="host", pid=1, concurrency=3, status=status, started_at=now,
            heartbeat_at=now, lease_expires_at=now + expires_in))
        db.session.commit()


def job_ids(app: Flask) -> set[int]:
    with app.app_context():
        return set(db.session.scalars(db.select(Job.id)))


def execution_job_ids(app: Flask) -> set[int]:
    with app.app_context():
        return set(db.session.scalars(db.select(Execution.job_id)))


def parse(text: str) -> Samples:
    """Every sample of a Prometheus text exposition, keyed by name and labels."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float | None:
    """One sample's value, or None when it is not exposed."""
    return samples.get((name, frozenset(labels.items())))


def ago(**delta: float) -> datetime:
    return utcnow() - timedelta(**delta)
