"""The claim: how a scheduler starts jobs without ever letting more than the global limit
run, in SPEC §5 order (`QUEUE_ORDER`, `ELIGIBLE`, queue.py).

PostgreSQL: a transaction-scoped advisory lock serialises claimers, then one statement
(CLAIM) counts the running jobs, picks the eligible candidates with FOR UPDATE SKIP LOCKED,
starts them and opens their executions. SQLite: BEGIN IMMEDIATE serialises claimers, then
an UPDATE … RETURNING starts the first `room` candidates and one INSERT opens their
executions. `SqlJobStore.claim` (store.py) chooses between them.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, text, update

from ..scheduler.ordering import queue_key
from ..scheduler.states import ExecutionStatus, JobStatus, Priority
from ..scheduler.store import ClaimedJob, QueuedJob
from .queue import QUEUE_ORDER, Instant, eligible, executions, jobs

# Any constant shared by every scheduler: the key of the transaction-scoped advisory lock
# that serialises claims on PostgreSQL, so "count running, then start up to the room left"
# holds system-wide. The locked section is two short statements.
CLAIM_LOCK_KEY = 0x6A6F6273636864  # "jobschd"

CLAIM_LOCK = text("SELECT pg_advisory_xact_lock(:key)")

# The PostgreSQL claim as one statement, built once (SPEC §5 order and eligibility, as
# QUEUE_ORDER and ELIGIBLE say them). `room` is what the global limit leaves; the candidates
# are picked in a MATERIALIZED CTE with FOR UPDATE SKIP LOCKED, which the planner cannot
# fold into the UPDATE (a folded LIMIT subquery can update more rows than the limit), and
# rows another transaction is changing (a cancel, an edit) are skipped, not waited for.
# The claim is stamped with `at`, the clock read while the statement runs: after its
# snapshot, so every finish the count saw committed (and stamped its finished_at) before it.
# The statement's own start (statement_timestamp()) comes before its snapshot, so a finish
# committing in between would seem to end after the next job started, beyond the limit.
CLAIM = text("""
WITH stamp AS MATERIALIZED (SELECT clock_timestamp() AS at),
room AS (
    SELECT GREATEST(0, LEAST(CAST(:max_claims AS integer),
                             CAST(:limit AS integer) - count(*))) AS n
    FROM jobs WHERE status = 'running'
),
picked AS MATERIALIZED (
    SELECT id FROM jobs
    WHERE id = ANY(CAST(:ids AS bigint[])) AND status = 'pending'
      AND (run_at IS NULL OR run_at <= (SELECT at FROM stamp))
    ORDER BY priority_rank ASC, deadline ASC NULLS LAST, id ASC
    LIMIT (SELECT n FROM room)
    FOR UPDATE SKIP LOCKED
),
started AS (
    UPDATE jobs SET
        status = 'running', attempts = jobs.attempts + 1, node = :node,
        lease_token = CAST(gen_random_uuid() AS text),
        lease_expires_at = stamp.at + make_interval(secs => :lease_seconds),
        started_at = stamp.at, updated_at = stamp.at, progress = NULL, finished_at = NULL
    FROM picked, stamp WHERE jobs.id = picked.id
    RETURNING jobs.id, jobs.owner_id, jobs.task, jobs.args, jobs.attempts, jobs.max_attempts,
              jobs.timeout_seconds, jobs.deadline, jobs.priority, jobs.lease_token,
              jobs.started_at, jobs.created_at, jobs.run_at
),
opened AS (
    INSERT INTO executions (job_id, attempt, status, node, lease_token, started_at, output)
    SELECT id, attempts, 'running', :node, lease_token, started_at, '' FROM started
    RETURNING id, job_id
)
SELECT started.*, opened.id AS execution_id FROM started JOIN opened ON opened.job_id = started.id
""").columns(
    jobs.c.id, jobs.c.owner_id, jobs.c.task, jobs.c.args, jobs.c.attempts, jobs.c.max_attempts,
    jobs.c.timeout_seconds, jobs.c.deadline, jobs.c.priority, jobs.c.lease_token,
    jobs.c.started_at, jobs.c.created_at, jobs.c.run_at, executions.c.id.label("execution_id"),
)


def claim_postgres(
    conn: Connection, ids: list[int], node: str, max_claims: int, limit: int,
    lease_seconds: int,
) -> list[ClaimedJob]:
    """Two statements in the caller's transaction: the claim lock, then CLAIM (count, pick,
    start, insert the executions). The lock is its own statement so that CLAIM's
    snapshot, taken after it, sees every claim committed before."""
    conn.execute(CLAIM_LOCK, {"key": CLAIM_LOCK_KEY})
    rows = conn.execute(CLAIM, {
        "ids": ids, "node": node, "max_claims": max_claims, "limit": limit,
        "lease_seconds": float(lease_seconds),
    }).all()
    rows.sort(key=_row_queue_key)
    return [_claimed(row, row.execution_id, node) for row in rows]


def claim_sqlite(
    conn: Connection, ids: list[int], node: str, room: int, now: Instant, lease_seconds: int
) -> list[ClaimedJob]:
    """Start up to `room` candidates inside the caller's BEGIN IMMEDIATE transaction."""
    started = conn.execute(claim_statement(ids, node, room, now, lease_seconds))
    rows = sorted(started.all(), key=_row_queue_key)
    execution_ids = _insert_executions(conn, rows, node) if rows else {}
    return [_claimed(row, execution_ids[row.id], node) for row in rows]


def claim_statement(ids: list[int], node: str, room: int, now: Instant, lease_seconds: int) -> Any:
    """SQLite: UPDATE the first `room` eligible candidates to running, RETURNING what
    started. SQLite has one writer at a time, so a plain subquery is already atomic
    (PostgreSQL claims with CLAIM)."""
    picked = (
        select(jobs.c.id).where(jobs.c.id.in_(ids), eligible(now.sql))
        .order_by(*QUEUE_ORDER).limit(room)
    )
    return update(jobs).where(jobs.c.id.in_(picked.scalar_subquery())).values(
        status=JobStatus.RUNNING.value, attempts=jobs.c.attempts + 1, node=node,
        lease_token=func.lower(func.hex(func.randomblob(16))),
        lease_expires_at=now.plus(lease_seconds),
        started_at=now.sql, updated_at=now.sql, progress=None, finished_at=None,
    ).returning(
        jobs.c.id, jobs.c.owner_id, jobs.c.task, jobs.c.args, jobs.c.attempts,
        jobs.c.max_attempts, jobs.c.timeout_seconds, jobs.c.deadline, jobs.c.priority,
        jobs.c.lease_token, jobs.c.started_at, jobs.c.created_at, jobs.c.run_at,
    )


def _insert_executions(conn: Connection, rows: list[Any], node: str) -> dict[int, int]:
    """One multi-row INSERT of the claimed attempts' executions; job id -> execution id."""
    params = [
        {"job_id": row.id, "attempt": row.attempts, "status": ExecutionStatus.RUNNING.value,
         "node": node, "lease_token": row.lease_token, "started_at": row.started_at,
         "output": ""}
        for row in rows
    ]
    inserted = conn.execute(
        insert(executions).returning(
            executions.c.id, executions.c.job_id, sort_by_parameter_order=True),
        params,
    )
    return {row.job_id: row.id for row in inserted}


def running_count(conn: Connection) -> int:
    return conn.scalar(
        select(func.count()).select_from(jobs).where(jobs.c.status == JobStatus.RUNNING.value)
    ) or 0


def _row_queue_key(row: Any) -> tuple[int, datetime, int]:
    return queue_key(QueuedJob(row.id, Priority(row.priority), row.deadline, None))


def _claimed(row: Any, execution_id: int, node: str) -> ClaimedJob:
    return ClaimedJob(
        id=row.id, owner_id=row.owner_id, task=row.task, args=row.args or {},
        attempt=row.attempts, max_attempts=row.max_attempts,
        timeout_seconds=row.timeout_seconds, deadline=row.deadline,
        lease_token=row.lease_token, execution_id=execution_id, node=node,
        started_at=row.started_at, eligible_at=max(row.created_at, row.run_at or row.created_at),
    )
