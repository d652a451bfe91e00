"""Retention: delete finished jobs older than a cut-off, with their executions.

`flask prune-jobs --older-than 30d` prunes once; with JOBSCHED_RETENTION_DAYS set, every
scheduler offers to prune at most once an hour (`AutoPrune`), and on PostgreSQL only the one
holding the prune's advisory lock does it (SQLite has a single scheduler). Executions go
with their job through the foreign key's ON DELETE CASCADE (SQLite: `foreign_keys` is on
for every connection, see database.py).

Deletes run in small batches, each its own short transaction, so a large prune never holds
locks for long nor blocks the claims of running schedulers.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, delete, func, select

from ..database import IMMEDIATE, configure_engine
from ..scheduler.chores import Periodic, Spawn, start_thread
from ..scheduler.clock import Clock, utcnow
from ..scheduler.events import EventSink, JobDeleted
from ..scheduler.states import FINISHED
from .queue import jobs

log = logging.getLogger(__name__)

FINISHED_VALUES = tuple(status.value for status in FINISHED)
BATCH_SIZE = 500
AUTO_PRUNE_INTERVAL = timedelta(hours=1)
# The session advisory lock one automatic prune holds on PostgreSQL while it runs; any
# constant shared by every scheduler, distinct from the claim lock's key.
PRUNE_LOCK_KEY = 0x6A6F627370726E  # "jobsprn"


def prunable(cutoff: datetime) -> ColumnElement[bool]:
    """Finished (completed, failed, cancelled) before `cutoff`."""
    return jobs.c.status.in_(FINISHED_VALUES) & (jobs.c.finished_at < cutoff)


def count_prunable(engine: Engine, older_than: timedelta, now: datetime) -> int:
    """How many jobs a prune with these arguments would delete now (a dry run)."""
    with engine.connect() as conn:
        query = select(func.count()).select_from(jobs).where(prunable(now - older_than))
        return conn.scalar(query) or 0


def prune_jobs(
    engine: Engine, older_than: timedelta, now: datetime, *, batch_size: int = BATCH_SIZE,
    sink: EventSink | None = None,
) -> int:
    """Delete jobs finished more than `older_than` before `now`, with their executions, in
    batches; publish JobDeleted for each (when a sink is given). Returns how many."""
    with configure_engine(engine).connect() as conn:
        return _prune_batches(conn, now - older_than, batch_size, sink)


def locked_prune(
    engine: Engine, older_than: timedelta, now: datetime, *, batch_size: int = BATCH_SIZE,
    sink: EventSink | None = None,
) -> int | None:
    """prune_jobs while holding the prune lock (PostgreSQL); None when another process
    holds it, i.e. another scheduler is pruning right now."""
    with configure_engine(engine).connect() as conn:
        if conn.dialect.name != "postgresql":
            return _prune_batches(conn, now - older_than, batch_size, sink)
        won = conn.scalar(select(func.pg_try_advisory_lock(PRUNE_LOCK_KEY)))
        conn.commit()  # a session lock: it outlives this transaction, not the connection
        if not won:
            return None
        try:
            return _prune_batches(conn, now - older_than, batch_size, sink)
        finally:
            _unlock(conn)


def _unlock(conn: Connection) -> None:
    """Release the prune lock; if that fails, drop the connection, which releases it too
    (a pooled connection must never keep the lock)."""
    try:
        conn.rollback()
        conn.scalar(select(func.pg_advisory_unlock(PRUNE_LOCK_KEY)))
        conn.commit()
    except Exception:
        log.warning("retention: could not release the prune lock; closing its connection",
                    exc_info=True)
        conn.invalidate()


def _prune_batches(
    conn: Connection, cutoff: datetime, batch_size: int, sink: EventSink | None
) -> int:
    """Delete batch after batch until one comes back short; each batch commits alone."""
    conn.execution_options(**IMMEDIATE)  # SQLite: take the write lock at BEGIN
    total = 0
    while True:
        with conn.begin():
            deleted = conn.execute(_delete_batch(cutoff, batch_size)).all()
        total += len(deleted)
        if sink is not None:
            for job_id, owner_id in deleted:
                sink.publish(JobDeleted(job_id, owner_id))
        if len(deleted) < batch_size:
            return total


def _delete_batch(cutoff: datetime, batch_size: int) -> Any:
    """DELETE up to `batch_size` prunable jobs, RETURNING their ids and owners.

    PostgreSQL: the batch is picked FOR UPDATE SKIP LOCKED, so rows another transaction is
    changing (a retry, a delete) are left for the next prune instead of waited for, and the
    outer condition is re-checked on the locked rows: a job retried meanwhile stays.
    """
    picked = (select(jobs.c.id).where(prunable(cutoff)).order_by(jobs.c.id)
              .limit(batch_size).with_for_update(skip_locked=True))
    return (delete(jobs).where(jobs.c.id.in_(picked.scalar_subquery()), prunable(cutoff))
            .returning(jobs.c.id, jobs.c.owner_id))


class AutoPrune(Periodic):
    """A scheduler's housekeeping chore: offer to prune at most once per `interval`, on a
    worker of its own (a prune must not delay claims). `prune` returns how many jobs it
    deleted, or None when another scheduler held the lock."""

    label, worker = "retention", "prune"

    def __init__(
        self, prune: Callable[[], int | None], *, interval: timedelta = AUTO_PRUNE_INTERVAL,
        spawn: Spawn = start_thread,
    ) -> None:
        super().__init__(interval=interval, spawn=spawn)
        self._prune = prune

    def work(self) -> None:
        deleted = self._prune()
        if deleted is None:
            log.info("retention: another scheduler is pruning; skipped")
        else:
            log.info("retention: pruned %d finished jobs", deleted,
                     extra={"event": "pruned", "deleted": deleted})


def retention_chore(
    engine: Engine, days: int | None, sink: EventSink, *, spawn: Spawn = start_thread,
    clock: Clock = utcnow,
) -> AutoPrune | None:
    """The automatic prune for JOBSCHED_RETENTION_DAYS, or None when it is not set."""
    if not days:
        return None
    older_than = timedelta(days=days)
    return AutoPrune(lambda: locked_prune(engine, older_than, clock(), sink=sink), spawn=spawn)
