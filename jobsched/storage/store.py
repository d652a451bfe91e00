"""`SqlJobStore`: the scheduler's `JobStore` on SQLite and PostgreSQL, in SQLAlchemy Core.

Every call is one short transaction on the engine (no Flask session: the scheduler runs
outside requests). Writes to a running job are fenced by its lease token: the guarding
UPDATE matches `status = 'running' AND lease_token = :token`, and when it matches no row the
lease is lost and nothing else is written. That UPDATE row-locks the job until the commit,
so the statements that follow it in the same transaction cannot race a rescuer.

Time is the database's: PostgreSQL's now() (one clock for every node, so leases mean the
same on every machine); SQLite has a single scheduler, so its store reads its own clock.
The API's `sort=queue` orders by `QUEUE_ORDER` and filters by `ELIGIBLE`, exactly as `claim`.
"""
from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    case,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from ..database import IMMEDIATE, configure_engine
from ..models import UTCDateTime
from ..scheduler.clock import Clock, utcnow
from ..scheduler.limits import clamp_progress
from ..scheduler.policy import STRICT, QueuePolicy
from ..scheduler.states import ExecutionStatus, JobStatus, NodeStatus, Priority
from ..scheduler.store import (
    ClaimBatch,
    ClaimedJob,
    Finished,
    NodeConflict,
    NodeInfo,
    Outcome,
    QueuedJob,
)
from .claim import ClaimCaps, claim_postgres, claim_sqlite
from .dependencies import ENDS_DEPENDENTS, settle_dependents
from .fencing import (
    FINISH_BATCH,
    LEASE_ONLY,
    NO_LEASE,
    OUTPUT_LIMIT_BYTES,
    close_execution,
    closed_values,
    fence,
    finish_batch_params,
    job_end_values,
    lost_error,
    next_status,
    rescue_statement,
    tail_output,
)
from .group_commit import BatchFailed, GroupCommit
from .queue import (
    ELIGIBLE,
    EXPECTED_SECONDS,
    QUEUE_ORDER,
    QUEUED,
    Instant,
    db_now,
    eligible,
    executions,
    jobs,
    nodes,
    running_jobs_count,
)

# The API and the service import the queue's SQL from here, next to the claim that uses it.
__all__ = [
    "ELIGIBLE", "OUTPUT_LIMIT_BYTES", "QUEUE_ORDER", "SqlJobStore", "db_now", "eligible",
    "executions", "jobs", "nodes", "tail_output",
]

# SQLite allows 32766 bound parameters per statement; IN lists go in chunks well below it.
_IN_CHUNK = 1000
_FENCE_STATUSES = frozenset(
    {ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT,
     ExecutionStatus.CANCELLED}
)


class SqlJobStore:
    """The JobStore protocol on an SQLAlchemy engine: one short transaction per call."""

    def __init__(self, engine: Engine, clock: Clock = utcnow) -> None:
        self._engine = configure_engine(engine)
        # Write transactions start with BEGIN IMMEDIATE on SQLite (ignored on PostgreSQL):
        # they take the write lock up front and queue behind busy_timeout instead of failing.
        self._writer = self._engine.execution_options(**IMMEDIATE)
        self._clock = clock
        self._postgres = engine.dialect.name == "postgresql"
        self._registered: set[str] = set()  # node names this process has registered
        self._finishes: GroupCommit[tuple[ClaimedJob, Outcome], Finished | None] = (
            GroupCommit(self._finish_batch))

    # -- reads ------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The store's current time (PostgreSQL: now(); SQLite: the store's clock)."""
        if not self._postgres:
            return self._clock()
        with self._engine.connect() as conn:
            return conn.scalar(select(db_now()))

    def pending(self) -> list[QueuedJob]:
        """Every pending job, eligible or waiting for its run_at, but those waiting for jobs
        they depend on (heap load and reconcile)."""
        query = _queued_columns().where(QUEUED)
        with self._engine.connect() as conn:
            return [_queued(row) for row in conn.execute(query.order_by(*QUEUE_ORDER))]

    def fetch_queued(self, ids: Iterable[int]) -> list[QueuedJob]:
        """Current queue state of these jobs; a job not pending any more (or waiting for
        jobs it depends on) is left out."""
        found: list[QueuedJob] = []
        with self._engine.connect() as conn:
            for chunk in _chunks(set(ids)):
                query = _queued_columns().where(jobs.c.id.in_(chunk), QUEUED)
                found.extend(_queued(row) for row in conn.execute(query))
        return found

    def lost_leases(self, tokens: Iterable[str]) -> set[str]:
        """Which of these lease tokens no longer hold (cancelled, rescued, deleted jobs)."""
        asked = set(tokens)
        held: set[str] = set()
        with self._engine.connect() as conn:
            for chunk in _chunks(asked):
                held.update(conn.scalars(select(jobs.c.lease_token).where(
                    jobs.c.status == JobStatus.RUNNING.value, jobs.c.lease_token.in_(chunk))))
        return asked - held

    def running_count(self) -> int:
        """Jobs running system-wide."""
        with self._engine.connect() as conn:
            return conn.scalar(running_jobs_count()) or 0

    # -- claim --------------------------------------------------------------------------------

    def claim(
        self, candidate_ids: Sequence[int], node: str, max_claims: int, limit: int,
        lease_seconds: int, per_user: int | None = None, policy: QueuePolicy = STRICT,
    ) -> ClaimBatch:
        """Atomically start up to `max_claims` still-eligible candidates, in queue order
        (under `policy`), within the global limit and the fair-use caps (claim.py)."""
        ids = list(dict.fromkeys(candidate_ids))[:_IN_CHUNK]
        if not ids or max_claims <= 0:
            return ClaimBatch()
        caps = ClaimCaps(max_claims, limit, per_user)
        with self._writer.begin() as conn:
            if self._postgres:
                return claim_postgres(conn, ids, node, caps, policy, lease_seconds)
            # SQLite's BEGIN IMMEDIATE serialises claimers until commit.
            return claim_sqlite(conn, ids, node, caps, policy, self._now(), lease_seconds)

    # -- leases -------------------------------------------------------------------------------

    def heartbeat(self, node: str, lease_seconds: int, tokens: Collection[str]) -> None:
        """Renew the node's row and the leases it still holds, by token. A job of this node
        whose token is not named (its final write was given up; or it belongs to an earlier
        process of the same name) is left to expire and be rescued."""
        with self._writer.begin() as conn:
            now = self._now()
            expires = now.plus(lease_seconds)
            conn.execute(update(nodes).where(nodes.c.name == node).values(
                heartbeat_at=now.sql, lease_expires_at=expires))
            for chunk in _chunks(tokens):
                held = (jobs.c.status == JobStatus.RUNNING.value) & (jobs.c.node == node) & (
                    jobs.c.lease_token.in_(chunk))
                if self._postgres:
                    held = held & (jobs.c.id == _locked_in_id_order(held).c.id)
                conn.execute(update(jobs).where(held).values(
                    lease_expires_at=expires, **LEASE_ONLY))

    def renew(self, claim: ClaimedJob, lease_seconds: int) -> bool:
        """Extend one lease; False when the lease is lost (job cancelled, rescued, deleted)."""
        with self._writer.begin() as conn:
            now = self._now()
            renewed = conn.execute(update(jobs).where(fence(claim)).values(
                lease_expires_at=now.plus(lease_seconds), **LEASE_ONLY))
            return renewed.rowcount == 1

    def report(self, claim: ClaimedJob, progress: int | None, output: str | None) -> bool:
        """Record progress (0-100) and/or the output so far; False when the lease is lost."""
        values: dict[str, Any] = {}
        if progress is not None:
            values["progress"] = clamp_progress(progress)
        with self._writer.begin() as conn:
            now = self._now()
            held = conn.execute(update(jobs).where(fence(claim)).values(
                updated_at=now.sql, **values)).rowcount == 1
            if held and output is not None:
                conn.execute(update(executions).where(
                    executions.c.id == claim.execution_id).values(output=tail_output(output)))
            return held

    # -- ending an attempt ----------------------------------------------------------------

    def finish(self, claim: ClaimedJob, outcome: Outcome) -> Finished | None:
        """End the attempt per `outcome` (completed, pending again after retry_delay, failed,
        or cancelled); None when the lease was lost.

        Attempts that end at the same time share one transaction (GroupCommit): the fence
        stays per row, so each gets exactly the answer its own write would have given. When
        a shared write fails, this attempt is written again alone, so one attempt's bad
        value (or a deadlock) never costs the others their write.
        """
        if outcome.status not in _FENCE_STATUSES:
            raise ValueError(f"an attempt cannot finish as {outcome.status.value}")
        try:
            return self._finishes.submit((claim, outcome))
        except BatchFailed:
            return self._finish_batch([(claim, outcome)])[0]

    def _finish_batch(self, items: list[tuple[ClaimedJob, Outcome]]) -> list[Finished | None]:
        """End these attempts in one transaction; one answer per item, in order."""
        with self._writer.begin() as conn:
            now = self._now()
            if self._postgres:
                rows = conn.execute(FINISH_BATCH, finish_batch_params(items))
                ended = {row.token: row for row in rows}
                done = [_finished(ended.get(claim.lease_token)) for claim, _ in items]
                settle = {row.id for row in ended.values() if row.has_dependents}
            else:
                done = [_finish_one(conn, claim, outcome, now) for claim, outcome in items]
                settle = {f.job_id for f in done if f is not None}
            return [_settled(conn, f, now) if f is not None and f.job_id in settle else f
                    for f in done]

    def hand_back(self, claim: ClaimedJob) -> Finished | None:
        """Shutdown: the job becomes pending again (attempts - 1, the attempt did not count)
        and its execution `lost`; None when the lease was lost."""
        error = f"handed back: node {claim.node} shut down before the attempt ended"
        with self._writer.begin() as conn:
            now = self._now()
            back = conn.execute(update(jobs).where(fence(claim)).values(
                status=JobStatus.PENDING.value, updated_at=now.sql,
                attempts=case((jobs.c.attempts > 0, jobs.c.attempts - 1), else_=0),
                **NO_LEASE))
            if back.rowcount != 1:
                return None
            conn.execute(close_execution(claim, ExecutionStatus.LOST, now, error, None))
        return Finished(claim.id, claim.owner_id, JobStatus.PENDING)

    def rescue_expired(self, backoff: Callable[[int], float]) -> list[Finished]:
        """Take every running job whose lease expired, in one conditional UPDATE: its running
        execution becomes `lost`; the job is pending after backoff(attempts) seconds if
        attempts remain, else failed."""
        with self._writer.begin() as conn:
            now = self._now()
            taken = conn.execute(rescue_statement(now, skip_locked=self._postgres)).all()
            if not taken:
                return []
            for row in taken:
                if row.status == JobStatus.PENDING.value:
                    # Per-job jitter; unseen by others until the commit, like the take.
                    conn.execute(update(jobs).where(jobs.c.id == row.id).values(
                        run_at=now.plus(backoff(row.attempts)), updated_at=now.sql))
            conn.execute(update(executions).where(
                executions.c.job_id.in_([row.id for row in taken]),
                executions.c.status == ExecutionStatus.RUNNING.value,
            ).values(closed_values(ExecutionStatus.LOST, now, lost_error(executions.c.node))))
            return [_settled(conn, Finished(row.id, row.owner_id, JobStatus(row.status)), now)
                    for row in taken]

    # -- nodes --------------------------------------------------------------------------------

    def register_node(self, info: NodeInfo, lease_seconds: int) -> None:
        """Create or revive this node's row; on SQLite refuse a second live node.

        The first registration of a name through this store is a new process (incarnation):
        its row's started_at moves to now, and jobs still running under the name belong to
        an earlier process of that name, so their leases end now and heartbeats (which
        renew only jobs claimed since started_at) leave them to rescue. A later
        registration by the same process (a resync after a store outage) keeps both.
        """
        new_process = info.name not in self._registered
        with self._writer.begin() as conn:
            now = self._now()
            if not self._postgres:
                _refuse_second_node(conn, info.name, now)
            conn.execute(self._upsert_node(info, now, lease_seconds, new_process))
            if new_process:
                conn.execute(update(jobs).where(
                    jobs.c.status == JobStatus.RUNNING.value, jobs.c.node == info.name,
                ).values(lease_expires_at=now.sql, **LEASE_ONLY))
        self._registered.add(info.name)

    def _upsert_node(
        self, info: NodeInfo, now: Instant, lease_seconds: int, new_process: bool
    ) -> Any:
        values = {
            "hostname": info.hostname, "pid": info.pid, "concurrency": info.concurrency,
            "status": NodeStatus.RUNNING.value, "heartbeat_at": now.sql,
            "lease_expires_at": now.plus(lease_seconds), "stopped_at": None,
        }
        dialect_insert = postgresql.insert if self._postgres else sqlite.insert
        statement = dialect_insert(nodes).values(name=info.name, started_at=now.sql, **values)
        if new_process:
            values["started_at"] = now.sql
        return statement.on_conflict_do_update(index_elements=[nodes.c.name], set_=values)

    def stop_node(self, node: str) -> None:
        """Mark this node stopped (graceful exit)."""
        with self._writer.begin() as conn:
            now = self._now()
            conn.execute(update(nodes).where(nodes.c.name == node).values(
                status=NodeStatus.STOPPED.value, stopped_at=now.sql))

    # -- time ---------------------------------------------------------------------------------

    def _now(self) -> Instant:
        """This call's instant (read once, so every statement of the call agrees)."""
        if self._postgres:
            # now() is the transaction's start: one value for every statement in it.
            return Instant(func.now(), None)
        value = self._clock()
        return Instant(literal(value, UTCDateTime()), value)


# -- claim and node helpers ------------------------------------------------------------

def _refuse_second_node(conn: Connection, name: str, now: Instant) -> None:
    """SQLite has no row locks to share the queue safely: one live scheduler at a time."""
    other = conn.scalar(select(nodes.c.name).where(
        nodes.c.name != name, nodes.c.status == NodeStatus.RUNNING.value,
        nodes.c.lease_expires_at > now.sql,
    ).limit(1))
    if other is not None:
        raise NodeConflict(
            f"SQLite allows one scheduler; node {other} is running — stop it or use PostgreSQL"
        )


def _locked_in_id_order(where: ColumnElement[bool]) -> Any:
    """The rows matching `where`, locked in id order (PostgreSQL): the order in which the
    batched final writes lock them too, so a heartbeat and a batch never deadlock."""
    return (select(jobs.c.id).where(where).order_by(jobs.c.id).with_for_update()
            .cte("held").prefix_with("MATERIALIZED"))


def _finish_one(
    conn: Connection, claim: ClaimedJob, outcome: Outcome, now: Instant
) -> Finished | None:
    """One attempt's fenced end, statement by statement (SQLite)."""
    status = next_status(claim, outcome)
    ended = conn.execute(update(jobs).where(fence(claim)).values(
        **job_end_values(status, outcome, now)))
    if ended.rowcount != 1:
        if outcome.status is ExecutionStatus.CANCELLED:
            # The user's cancel ended the lease; the cancel normally closes the execution
            # too, and this closes it if it is still open (its own token fences it, so a
            # newer attempt's row is never touched).
            conn.execute(close_execution(claim, outcome.status, now, outcome.error,
                                          outcome.output, fenced=True))
        return None
    conn.execute(close_execution(claim, outcome.status, now, outcome.error, outcome.output))
    return Finished(claim.id, claim.owner_id, status)


def _settled(conn: Connection, finished: Finished, now: Instant) -> Finished:
    """The ended job's dependents settled in the same transaction (SPEC §12)."""
    if finished.status not in ENDS_DEPENDENTS:
        return finished
    changed = settle_dependents(conn, finished.job_id, finished.status, now)
    return replace(finished, dependents=tuple(changed)) if changed else finished


def _finished(row: Any) -> Finished | None:
    return None if row is None else Finished(row.id, row.owner_id, JobStatus(row.status))


def _queued_columns() -> Any:
    return select(jobs.c.id, jobs.c.priority, jobs.c.deadline, jobs.c.run_at, jobs.c.owner_id,
                  jobs.c.concurrency_key, jobs.c.queued_at, EXPECTED_SECONDS.label("expected"))


def _queued(row: Any) -> QueuedJob:
    return QueuedJob(row.id, Priority(row.priority), row.deadline, row.run_at, row.owner_id,
                     row.concurrency_key, row.queued_at, row.expected)


def _chunks(values: Iterable[Any]) -> Iterator[list[Any]]:
    batch = list(values)
    for start in range(0, len(batch), _IN_CHUNK):
        yield batch[start:start + _IN_CHUNK]
