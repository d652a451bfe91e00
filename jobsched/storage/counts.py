"""Job counts: stats and list totals from the totals the database keeps in `job_counts`.

Triggers on `jobs` (migration 0002) append the changes of every write, per (owner, status,
priority), in the writer's own transaction: summing those rows gives what COUNT and AVG
over every job would, in time that grows with the number of keys instead of jobs. Appending
means writers never queue on a shared counter row; `compact` folds the rows into one per key
again, and every scheduler offers to do it every few seconds (`CountsCompaction`).
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    Select,
    case,
    cast,
    delete,
    func,
    insert,
    or_,
    select,
    text,
)

from ..database import IMMEDIATE
from ..models import JobCount
from ..scheduler.chores import Periodic, Spawn, start_thread
from .queue import jobs
from .timesql import seconds_between

job_counts = JobCount.__table__
KEY = ("owner_id", "status", "priority")
SUMS = ("jobs", "waited", "wait_us", "ran", "run_us", "missed")
COMPACT_INTERVAL = timedelta(seconds=10)
# The transaction-scoped advisory lock a compaction holds on PostgreSQL; any constant shared
# by every scheduler, distinct from the claim's and the prune's keys.
COMPACT_LOCK_KEY = 0x6A6F6273636E74  # "jobscnt"


def count_sums(owner_id: int | None = None) -> Select[Any]:
    """(status, priority, jobs, waited, wait_us, ran, run_us, missed) summed per status and
    priority, over one owner's jobs or (None) every job."""
    query = select(job_counts.c.status, job_counts.c.priority,
                   *(func.sum(job_counts.c[name]) for name in SUMS))
    if owner_id is not None:
        query = query.where(job_counts.c.owner_id == owner_id)
    return query.group_by(job_counts.c.status, job_counts.c.priority)


def jobs_by_owner(statuses: Iterable[str]) -> Select[Any]:
    """(owner_id, status, jobs) for these statuses, every owner's: a few rows an owner."""
    return (select(job_counts.c.owner_id, job_counts.c.status, func.sum(job_counts.c.jobs))
            .where(job_counts.c.status.in_(list(statuses)))
            .group_by(job_counts.c.owner_id, job_counts.c.status))


def owner_jobs(owner_id: int, status: str) -> Any:
    """How many of one owner's jobs are in `status`, as a scalar subquery (0 for none)."""
    return (select(func.coalesce(func.sum(job_counts.c.jobs), 0))
            .where(job_counts.c.owner_id == owner_id, job_counts.c.status == status)
            .scalar_subquery())


def compact(engine: Engine) -> int | None:
    """Fold the rows into one per key (dropping keys whose sums are all zero); the number of
    rows left, or None when another scheduler was compacting (PostgreSQL)."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            return _compact_postgresql(conn)
        return _compact_sqlite(conn)


def _folded(source: Any) -> Select[Any]:
    return (select(*(source.c[name] for name in KEY),
                   *(func.sum(source.c[name]) for name in SUMS))
            .group_by(*(source.c[name] for name in KEY))
            .having(or_(*(func.sum(source.c[name]) != 0 for name in SUMS))))


def _compact_postgresql(conn: Connection) -> int | None:
    # DELETE ... RETURNING takes exactly the rows this snapshot sees, so a row committed by a
    # writer meanwhile is never deleted without being summed.
    with conn.begin():
        if not conn.scalar(select(func.pg_try_advisory_xact_lock(COMPACT_LOCK_KEY))):
            return None
        moved = delete(job_counts).returning(*(job_counts.c[n] for n in KEY + SUMS)).cte()
        return conn.execute(insert(job_counts).from_select(KEY + SUMS, _folded(moved))).rowcount


def _compact_sqlite(conn: Connection) -> int:
    # One writer at a time (BEGIN IMMEDIATE): every row up to the highest id is committed.
    conn.execution_options(**IMMEDIATE)
    with conn.begin():
        top = conn.scalar(select(func.max(job_counts.c.id)))
        if top is None:
            return 0
        upto = job_counts.select().where(job_counts.c.id <= top).subquery()
        folded = conn.execute(insert(job_counts).from_select(KEY + SUMS, _folded(upto)))
        conn.execute(delete(job_counts).where(job_counts.c.id <= top))
        return folded.rowcount


def recount(engine: Engine) -> int:
    """Count every job again, replacing the kept counts (for a table loaded with triggers
    off, e.g. a bulk load under `session_replication_role = replica`); writers to `jobs`
    wait meanwhile. Returns the number of jobs counted."""
    with engine.connect() as conn:
        conn.execution_options(**IMMEDIATE)  # SQLite: the write lock from the start
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(text("LOCK TABLE jobs IN SHARE MODE"))
            conn.execute(delete(job_counts))
            conn.execute(insert(job_counts).from_select(KEY + SUMS, _every_job()))
            return int(conn.scalar(select(func.sum(job_counts.c.jobs))) or 0)


def _every_job() -> Select[Any]:
    """The counts of every row of `jobs`, computed as the triggers compute them."""
    wait = _microseconds(jobs.c.created_at, jobs.c.started_at)
    run = case((jobs.c.finished_at.is_not(None),
                _microseconds(jobs.c.started_at, jobs.c.finished_at)))
    key = (jobs.c.owner_id, jobs.c.status, jobs.c.priority)
    return select(
        *key, func.count(), func.count(jobs.c.started_at), func.coalesce(func.sum(wait), 0),
        func.count(run), func.coalesce(func.sum(run), 0),
        func.count().filter(jobs.c.deadline_missed),
    ).group_by(*key)


def _microseconds(start: Any, end: Any) -> Any:
    return cast(func.round(seconds_between(start, end) * 1_000_000), BigInteger)


def last_row_id(engine: Engine) -> int | None:
    with engine.connect() as conn:
        return conn.scalar(select(func.max(job_counts.c.id)))


class CountsCompaction(Periodic):
    """A scheduler's chore: compact the counts every COMPACT_INTERVAL on a worker of its own,
    unless no row was added since this chore's last compaction."""

    label, worker = "job counts", "compaction"

    def __init__(self, engine: Engine, *, interval: timedelta = COMPACT_INTERVAL,
                 spawn: Spawn = start_thread) -> None:
        super().__init__(interval=interval, spawn=spawn)
        self._engine = engine
        self._folded_up_to: int | None = None

    def work(self) -> None:
        top = last_row_id(self._engine)
        if top is None or top == self._folded_up_to:
            return
        if compact(self._engine) is not None:
            self._folded_up_to = last_row_id(self._engine)
