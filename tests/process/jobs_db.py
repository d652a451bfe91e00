"""The process tests' view of the database: per-test databases, seeding, and reading history.

Tests seed users and jobs with plain SQL (multi-row INSERTs, times from the database's own
clock) and judge the schedulers only by what the database shows afterwards.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, create_engine, func, insert, make_url, select, text

from jobsched.models import User
from jobsched.storage.store import executions, jobs, nodes

users = User.__table__


@contextmanager
def cloned_database(template_url: str) -> Iterator[str]:
    """A new database copied from a migrated template (much faster than migrating)."""
    url = make_url(template_url)
    name = f"jobsched_p_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{url.database}"'))
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def seed_user(engine: Engine, username: str = "owner") -> int:
    """A user to own the jobs (its password is never used)."""
    with engine.begin() as conn:
        return conn.scalar(insert(users).values(
            username=username, password_hash="-", created_at=func.now(),
        ).returning(users.c.id))


def add_jobs(engine: Engine, owner: int, count: int = 1, **columns: Any) -> list[int]:
    """Insert `count` pending jobs in one multi-row INSERT; ids in insertion order.

    `columns` override the defaults (task echo); a callable value is called with the row's
    index. Times left out come from the database clock.
    """
    rows = [_job_row(owner, index, columns) for index in range(count)]
    with engine.begin() as conn:
        inserted = conn.execute(insert(jobs).values(rows).returning(jobs.c.id))
        return sorted(inserted.scalars())


def _job_row(owner: int, index: int, columns: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "name": f"job {index}", "task": "echo", "args": {"message": index},
        "priority": "medium", "status": "pending", "owner_id": owner,
        "created_at": func.now(), "updated_at": func.now(),
    }
    row.update({k: v(index) if callable(v) else v for k, v in columns.items()})
    return row


@dataclass(frozen=True, slots=True)
class Run:
    """One execution as the database recorded it."""

    id: int
    job_id: int
    attempt: int
    status: str
    node: str
    started_at: datetime
    finished_at: datetime | None
    error: str | None


def runs(engine: Engine, job_ids: Sequence[int] | None = None) -> list[Run]:
    """Executions (of some jobs, or all), oldest first."""
    query = select(
        executions.c.id, executions.c.job_id, executions.c.attempt, executions.c.status,
        executions.c.node, executions.c.started_at, executions.c.finished_at,
        executions.c.error,
    ).order_by(executions.c.id)
    if job_ids is not None:
        query = query.where(executions.c.job_id.in_(list(job_ids)))
    with engine.connect() as conn:
        return [Run(*row) for row in conn.execute(query)]


def runs_by_job(engine: Engine, job_ids: Sequence[int]) -> dict[int, list[Run]]:
    """Each job's executions, oldest first (jobs without any map to [])."""
    grouped: dict[int, list[Run]] = {job_id: [] for job_id in job_ids}
    for run in runs(engine, job_ids):
        grouped[run.job_id].append(run)
    return grouped


def job_rows(engine: Engine, job_ids: Sequence[int]) -> dict[int, Any]:
    """The jobs' rows by id."""
    with engine.connect() as conn:
        rows = conn.execute(select(jobs).where(jobs.c.id.in_(list(job_ids))))
        return {row.id: row for row in rows}


def count_where(engine: Engine, sql: str, **params: Any) -> int:
    """SELECT count(*) with a raw SQL predicate over jobs (for wait_until conditions)."""
    with engine.connect() as conn:
        return conn.scalar(text(f"SELECT count(*) FROM jobs WHERE {sql}"), params)


def node_status(engine: Engine, name: str) -> str | None:
    """The status of a scheduler's row ('running', 'stopped'), None before it registers."""
    with engine.connect() as conn:
        return conn.scalar(select(nodes.c.status).where(nodes.c.name == name))


def max_overlap(intervals: Sequence[tuple[datetime, datetime]]) -> int:
    """The most intervals open at one instant; an end and a start at the same instant do not
    overlap (the slot was freed, then taken)."""
    events = [(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals]
    events.sort(key=lambda event: (event[0], event[1]))  # ends (-1) before starts (+1)
    open_now = peak = 0
    for _, step in events:
        open_now += step
        peak = max(peak, open_now)
    return peak


def closed_intervals(found: Sequence[Run]) -> list[tuple[datetime, datetime]]:
    """(started_at, finished_at) of every execution; all must be closed."""
    assert all(run.finished_at is not None for run in found), "an execution is still open"
    return [(run.started_at, run.finished_at) for run in found]  # type: ignore[misc]
