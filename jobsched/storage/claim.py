"""The claim: how a scheduler starts jobs without ever letting more than the global limit
run, in SPEC §5 order under §10's queue policy (`queue_order`, `queue_place`, `ELIGIBLE`,
queue.py), under the fair-use caps of SPEC §10 (the per-user cap and the concurrency keys;
the rule is scheduler/fairness.py).

PostgreSQL: a transaction-scoped advisory lock serialises claimers, then one statement
(CLAIM) counts the running jobs, locks the eligible candidates with FOR UPDATE SKIP LOCKED,
judges them by the caps, starts the first ones it may and opens their executions; the
candidates a cap held back come back with the reason. SQLite: BEGIN IMMEDIATE serialises
claimers, the rule runs in Python over the candidates it reads, an UPDATE … RETURNING starts
the picked ones and one INSERT opens their executions. `SqlJobStore.claim` (store.py)
chooses between them.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    String,
    TextClause,
    func,
    insert,
    literal,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql

from ..models import User, UTCDateTime
from ..scheduler.fairness import Candidate, Caps, HeldBy, Hold, pick
from ..scheduler.policy import QueuePolicy, eligible_since
from ..scheduler.states import ExecutionStatus, JobStatus
from ..scheduler.store import ClaimBatch, ClaimedJob
from .queue import Instant, eligible, executions, jobs, queue_order, queue_place

users = User.__table__

# Any constant shared by every scheduler: the key of the transaction-scoped advisory lock
# that serialises claims on PostgreSQL, so "count running, then start up to the room left"
# holds system-wide. The locked section is two short statements.
CLAIM_LOCK_KEY = 0x6A6F6273636864  # "jobschd"

CLAIM_LOCK = text("SELECT pg_advisory_xact_lock(:key)")

_ORDER = "rank ASC, tier ASC, deadline ASC NULLS LAST, id ASC"  # queue_order, for the windows
# What a claim reads back of each job it started (or held back).
_RETURNED = ("id", "owner_id", "task", "args", "attempts", "max_attempts", "timeout_seconds",
             "deadline", "priority", "lease_token", "started_at", "queued_at", "run_at",
             "concurrency_key")
_JOBS_RETURNED = ", ".join(f"jobs.{name}" for name in _RETURNED)

# The PostgreSQL claim as one statement, built once per queue policy (SPEC §5 order and
# eligibility, as queue_place and ELIGIBLE say them; SPEC §10's caps, as fairness.pick
# says them; `rank` and `tier` are each candidate's place at the claim's instant). `room` is
# what the global limit leaves; the candidates are locked in a MATERIALIZED CTE with FOR
# UPDATE SKIP LOCKED, which the planner cannot fold into the UPDATE (a folded LIMIT subquery
# can update more rows than the limit), and rows another transaction is changing (a cancel,
# an edit) are skipped, not waited for. Then, over the candidates in queue order (`pos`):
# `keyed` applies the key rule (running + earlier candidates of the (owner, key)), `judged`
# the owner rule (running + the owner's earlier candidates the key rule let through) and
# names the cap that holds a job (`held`), `ranked` numbers the free ones; the first `room`
# free ones start, and the held ones before the first free one that found no room come back
# with their reason (after it, nothing is judged, as in fairness.pick).
# The claim is stamped with `at`, the clock read while the statement runs: after its
# snapshot, so every finish the count saw committed (and stamped its finished_at) before it.
# The statement's own start (statement_timestamp()) comes before its snapshot, so a finish
# committing in between would seem to end after the next job started, beyond the limit.
_CLAIM = """
WITH stamp AS MATERIALIZED (SELECT clock_timestamp() AS at),
busy AS MATERIALIZED (SELECT owner_id, concurrency_key FROM jobs WHERE status = 'running'),
room AS (
    SELECT GREATEST(0, LEAST(CAST(:max_claims AS integer),
                             CAST(:limit AS integer) - (SELECT count(*) FROM busy))) AS n
),
locked AS MATERIALIZED (
    SELECT id, owner_id, concurrency_key, concurrency_limit, deadline,
           {rank} AS rank, {tier} AS tier FROM jobs
    WHERE id = ANY(CAST(:ids AS bigint[])) AND status = 'pending' AND waiting_on = 0
      AND (run_at IS NULL OR run_at <= (SELECT at FROM stamp))
    FOR UPDATE SKIP LOCKED
),
keyed AS (
    SELECT locked.*, row_number() OVER (ORDER BY {order}) AS pos, (
        concurrency_key IS NULL
        OR row_number() OVER (PARTITION BY owner_id, concurrency_key ORDER BY {order})
           + (SELECT count(*) FROM busy
              WHERE busy.owner_id = locked.owner_id
                AND busy.concurrency_key = locked.concurrency_key) <= concurrency_limit
    ) AS key_ok
    FROM locked
),
judged AS (
    SELECT keyed.*, CASE
        WHEN COALESCE(users.max_running, CAST(:per_user AS integer))
             <= (SELECT count(*) FROM busy WHERE busy.owner_id = keyed.owner_id)
                + COALESCE(count(*) FILTER (WHERE key_ok) OVER (
                      PARTITION BY keyed.owner_id ORDER BY pos
                      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) THEN 'owner'
        WHEN NOT key_ok THEN 'key'
    END AS held
    FROM keyed JOIN users ON users.id = keyed.owner_id
),
ranked AS (
    SELECT judged.*, row_number() OVER (PARTITION BY held IS NULL ORDER BY pos) AS nth
    FROM judged
),
cut AS (SELECT min(pos) AS pos FROM ranked WHERE held IS NULL AND nth > (SELECT n FROM room)),
picked AS (SELECT id, pos FROM ranked WHERE held IS NULL AND nth <= (SELECT n FROM room)),
started AS (
    UPDATE jobs SET
        status = 'running', attempts = jobs.attempts + 1, node = :node,
        lease_token = CAST(gen_random_uuid() AS text),
        lease_expires_at = stamp.at + make_interval(secs => :lease_seconds),
        started_at = stamp.at, updated_at = stamp.at, progress = NULL, finished_at = NULL
    FROM picked, stamp WHERE jobs.id = picked.id
    RETURNING {returned}
),
opened AS (
    INSERT INTO executions (job_id, attempt, status, node, lease_token, started_at, output)
    SELECT id, attempts, 'running', :node, lease_token, started_at, '' FROM started
    RETURNING id, job_id
)
SELECT started.*, opened.id AS execution_id, CAST(NULL AS text) AS held, picked.pos
FROM started JOIN opened ON opened.job_id = started.id JOIN picked ON picked.id = started.id
UNION ALL
SELECT {returned}, CAST(NULL AS bigint), ranked.held, ranked.pos
FROM ranked JOIN jobs ON jobs.id = ranked.id
WHERE ranked.held IS NOT NULL AND ranked.pos < COALESCE((SELECT pos FROM cut), ranked.pos + 1)
"""
# The claim's instant, as the candidates' places are computed in `locked`.
_CLAIM_AT = literal_column("(SELECT at FROM stamp)", UTCDateTime())


@dataclass(frozen=True, slots=True)
class ClaimCaps:
    """How many one claim may start: at most `max_claims`, within the global `limit` and
    the default per-user cap (None: none)."""

    max_claims: int
    limit: int
    per_user: int | None


@lru_cache(maxsize=8)
def claim_statement(policy: QueuePolicy) -> TextClause:
    """The PostgreSQL claim under this queue policy (a handful of policies per process)."""
    rank, tier = (_postgres_sql(column) for column in queue_place(policy, _CLAIM_AT))
    sql = _CLAIM.format(order=_ORDER, returned=_JOBS_RETURNED, rank=rank, tier=tier)
    return text(sql).columns(
        *(jobs.c[name] for name in _RETURNED), executions.c.id.label("execution_id"),
        literal(None, String()).label("held"), literal(None, BigInteger()).label("pos"),
    )


def _postgres_sql(expression: ColumnElement[Any]) -> str:
    return str(expression.compile(dialect=postgresql.dialect(),
                                  compile_kwargs={"literal_binds": True}))


def claim_postgres(
    conn: Connection, ids: list[int], node: str, caps: ClaimCaps, policy: QueuePolicy,
    lease_seconds: int,
) -> ClaimBatch:
    """Two statements in the caller's transaction: the claim lock, then the claim (count,
    pick, start, insert the executions). The lock is its own statement so that the claim's
    snapshot, taken after it, sees every claim committed before."""
    conn.execute(CLAIM_LOCK, {"key": CLAIM_LOCK_KEY})
    rows = conn.execute(claim_statement(policy), {
        "ids": ids, "node": node, "max_claims": caps.max_claims, "limit": caps.limit,
        "per_user": caps.per_user, "lease_seconds": float(lease_seconds),
    }).all()
    started = sorted((row for row in rows if row.held is None), key=lambda row: row.pos)
    return ClaimBatch([_claimed(row, row.execution_id, node) for row in started],
                      {row.id: _hold(row) for row in rows if row.held is not None})


def claim_sqlite(
    conn: Connection, ids: list[int], node: str, caps: ClaimCaps, policy: QueuePolicy,
    now: Instant, lease_seconds: int,
) -> ClaimBatch:
    """Inside the caller's BEGIN IMMEDIATE transaction (one writer at a time, so reading
    and then writing is atomic): read what runs and the candidates, let fairness.pick
    choose, start the chosen ones."""
    busy = conn.execute(select(jobs.c.owner_id, jobs.c.concurrency_key)
                        .where(jobs.c.status == JobStatus.RUNNING.value)).all()
    room = min(caps.max_claims, caps.limit - len(busy))
    if room <= 0:
        return ClaimBatch()
    rows = conn.execute(
        select(jobs.c.id, jobs.c.owner_id, jobs.c.concurrency_key, jobs.c.concurrency_limit,
               users.c.max_running)
        .join(users, users.c.id == jobs.c.owner_id)
        .where(jobs.c.id.in_(ids), eligible(now.sql)).order_by(*queue_order(policy, now.sql))
    ).all()
    owner_caps = Caps(caps.per_user,
                      {r.owner_id: r.max_running for r in rows if r.max_running is not None})
    candidates = [Candidate(r.id, r.owner_id, r.concurrency_key, r.concurrency_limit)
                  for r in rows]
    start_ids, held = pick(candidates, [tuple(b) for b in busy], owner_caps, room)
    if not start_ids:
        return ClaimBatch([], held)
    started = conn.execute(start_statement(start_ids, node, now, lease_seconds))
    order = {job_id: pos for pos, job_id in enumerate(start_ids)}
    rows = sorted(started.all(), key=lambda row: order[row.id])
    execution_ids = _insert_executions(conn, rows, node)
    return ClaimBatch([_claimed(row, execution_ids[row.id], node) for row in rows], held)


def start_statement(ids: list[int], node: str, now: Instant, lease_seconds: int) -> Any:
    """SQLite: UPDATE these pending jobs to running, RETURNING what started."""
    return update(jobs).where(jobs.c.id.in_(ids)).values(
        status=JobStatus.RUNNING.value, attempts=jobs.c.attempts + 1, node=node,
        lease_token=func.lower(func.hex(func.randomblob(16))),
        lease_expires_at=now.plus(lease_seconds),
        started_at=now.sql, updated_at=now.sql, progress=None, finished_at=None,
    ).returning(*(jobs.c[name] for name in _RETURNED))


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


def _claimed(row: Any, execution_id: int, node: str) -> ClaimedJob:
    return ClaimedJob(
        id=row.id, owner_id=row.owner_id, task=row.task, args=row.args or {},
        attempt=row.attempts, max_attempts=row.max_attempts,
        timeout_seconds=row.timeout_seconds, deadline=row.deadline,
        lease_token=row.lease_token, execution_id=execution_id, node=node,
        started_at=row.started_at, eligible_at=eligible_since(row.queued_at, row.run_at),
        concurrency_key=row.concurrency_key,
    )


def _hold(row: Any) -> Hold:
    return Hold(row.owner_id, row.concurrency_key, HeldBy(row.held))
