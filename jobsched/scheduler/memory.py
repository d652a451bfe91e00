"""`InMemoryJobStore`: the JobStore contract in plain Python, for pure tests.

One lock makes every method atomic, which is the in-memory twin of the SQL store's
transactions. What tests do besides the protocol (play the web side, read snapshots, make
time pass for leases) lives with them, in tests/memory.py.
"""
from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .clock import Clock, utcnow
from .fairness import Candidate, Caps, pick
from .leases import is_expired, lease_expires_at
from .limits import clamp_progress
from .ordering import queue_key
from .policy import STRICT, QueuePolicy, eligible_since
from .states import ExecutionStatus, JobStatus, NodeStatus, Priority, transition
from .store import (
    ClaimBatch,
    ClaimedJob,
    Finished,
    NodeConflict,
    NodeInfo,
    Outcome,
    QueuedJob,
)


@dataclass(slots=True)
class ExecutionRecord:
    """One attempt of a job, as the executions table keeps it."""

    id: int
    job_id: int
    attempt: int
    node: str
    started_at: datetime
    lease_token: str | None
    status: ExecutionStatus = ExecutionStatus.RUNNING
    finished_at: datetime | None = None
    duration_seconds: float | None = None
    output: str = ""
    error: str | None = None


@dataclass(slots=True)
class JobRecord:
    """A job row; `get()` hands out deep copies, so tests see snapshots."""

    id: int
    name: str
    task: str
    args: dict[str, Any]
    priority: Priority
    deadline: datetime | None
    run_at: datetime | None
    max_attempts: int
    timeout_seconds: int
    owner_id: int
    created_at: datetime
    updated_at: datetime
    description: str = ""
    status: JobStatus = JobStatus.PENDING
    attempts: int = 0
    progress: int | None = None
    result: Any = None
    error: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    deadline_missed: bool = False
    node: str | None = None
    lease_token: str | None = None
    lease_expires_at: datetime | None = None
    concurrency_key: str | None = None
    concurrency_limit: int = 1
    queued_at: datetime | None = None  # None: its created_at
    executions: list[ExecutionRecord] = field(default_factory=list)

    def queued(self) -> QueuedJob:
        """The heap's view of this job (its expected run time: its timeout, SPEC §10)."""
        return QueuedJob(self.id, self.priority, self.deadline, self.run_at, self.owner_id,
                         self.concurrency_key, self.queued_at or self.created_at,
                         self.timeout_seconds)

    def candidate(self) -> Candidate:
        """The fair-use rule's view of this job."""
        return Candidate(self.id, self.owner_id, self.concurrency_key, self.concurrency_limit)


@dataclass(slots=True)
class NodeRecord:
    info: NodeInfo
    status: str
    started_at: datetime
    heartbeat_at: datetime
    lease_expires_at: datetime
    stopped_at: datetime | None = None


class InMemoryJobStore:
    """The JobStore protocol over dicts, thread-safe with one lock."""

    def __init__(self, clock: Clock = utcnow, *, exclusive: bool = False) -> None:
        # exclusive=True mimics SQLite: a second live node is refused with NodeConflict.
        self._clock = clock
        self._exclusive = exclusive
        self._lock = threading.Lock()
        self._jobs: dict[int, JobRecord] = {}
        self._nodes: dict[str, NodeRecord] = {}
        self._next_job_id = 1
        self._next_execution_id = 1
        self.max_running: dict[int, int] = {}  # admins' per-user caps (users.max_running)

    # -- the JobStore protocol ---------------------------------------------------------

    def now(self) -> datetime:
        """The store's clock."""
        return self._clock()

    def pending(self) -> list[QueuedJob]:
        """Every pending job, eligible or waiting for its run_at."""
        with self._lock:
            return [j.queued() for j in self._jobs.values() if j.status is JobStatus.PENDING]

    def fetch_queued(self, ids: Iterable[int]) -> list[QueuedJob]:
        """Current queue state of these jobs; jobs no longer pending are left out."""
        with self._lock:
            jobs = (self._jobs.get(i) for i in set(ids))
            return [j.queued() for j in jobs if j is not None and j.status is JobStatus.PENDING]

    def claim(
        self, candidate_ids: Sequence[int], node: str, max_claims: int, limit: int,
        lease_seconds: int, per_user: int | None = None, policy: QueuePolicy = STRICT,
    ) -> ClaimBatch:
        """Start up to max_claims eligible candidates in queue order (under `policy`),
        within the limit and the fair-use caps (fairness.pick)."""
        with self._lock:
            now = self._clock()
            room = min(max_claims, limit - self._running_count())
            if room <= 0:
                return ClaimBatch()
            eligible = sorted(
                (j for j in map(self._jobs.get, set(candidate_ids)) if _eligible(j, now)),
                key=lambda j: queue_key(j.queued(), policy, now),
            )
            running = [(j.owner_id, j.concurrency_key) for j in self._jobs.values()
                       if j.status is JobStatus.RUNNING]
            start_ids, held = pick((j.candidate() for j in eligible), running,
                                   Caps(per_user, dict(self.max_running)), room)
            started = [self._start(self._jobs[i], node, now, lease_seconds) for i in start_ids]
            return ClaimBatch(started, held)

    def heartbeat(self, node: str, lease_seconds: int, tokens: Collection[str]) -> None:
        """Renew the node's row and the leases it still holds (these tokens)."""
        with self._lock:
            now = self._clock()
            expires = lease_expires_at(now, lease_seconds)
            record = self._nodes.get(node)
            if record is not None:
                record.heartbeat_at, record.lease_expires_at = now, expires
            for job in self._jobs.values():
                held = job.node == node and job.lease_token in tokens
                if job.status is JobStatus.RUNNING and held:
                    job.lease_expires_at = expires

    def renew(self, claim: ClaimedJob, lease_seconds: int) -> bool:
        """Extend one lease; False when the lease is lost."""
        with self._lock:
            job = self._held(claim)
            if job is not None:
                job.lease_expires_at = lease_expires_at(self._clock(), lease_seconds)
            return job is not None

    def report(self, claim: ClaimedJob, progress: int | None, output: str | None) -> bool:
        """Record progress and/or output so far; False when the lease is lost."""
        with self._lock:
            job = self._held(claim)
            if job is None:
                return False
            if progress is not None:
                job.progress = clamp_progress(progress)
            if output is not None:
                self._execution(job, claim.execution_id).output = output
            job.updated_at = self._clock()
            return True

    def finish(self, claim: ClaimedJob, outcome: Outcome) -> Finished | None:
        """End the attempt per the outcome; None when the lease was lost."""
        with self._lock:
            job = self._held(claim)
            if job is None:
                return None
            now = self._clock()
            self._close(job, claim.execution_id, outcome.status, now, outcome.error, outcome.output)
            if outcome.progress is not None:
                job.progress = outcome.progress
            if outcome.status is ExecutionStatus.COMPLETED:
                job.result, job.error = outcome.result, None
                self._end(job, JobStatus.COMPLETED, now)
            elif outcome.status is ExecutionStatus.CANCELLED:
                self._end(job, JobStatus.CANCELLED, now)
            else:
                job.error = outcome.error
                self._retry_or_fail(job, now, outcome.retry_delay)
            return Finished(job.id, job.owner_id, job.status)

    def hand_back(self, claim: ClaimedJob) -> Finished | None:
        """Shutdown: the job is pending again and the attempt does not count."""
        with self._lock:
            job = self._held(claim)
            if job is None:
                return None
            now = self._clock()
            error = f"handed back: node {claim.node} shut down before the attempt ended"
            self._close(job, claim.execution_id, ExecutionStatus.LOST, now, error, None)
            job.attempts = max(0, job.attempts - 1)
            self._set_status(job, JobStatus.PENDING, now)
            return Finished(job.id, job.owner_id, job.status)

    def lost_leases(self, tokens: Iterable[str]) -> set[str]:
        """Which of these lease tokens no longer hold."""
        with self._lock:
            held = {j.lease_token for j in self._jobs.values() if j.status is JobStatus.RUNNING}
            return {t for t in tokens if t not in held}

    def rescue_expired(self, backoff: Callable[[int], float]) -> list[Finished]:
        """Take every running job whose lease expired: execution lost, job retried or failed."""
        with self._lock:
            now = self._clock()
            expired = [
                j for j in self._jobs.values()
                if j.status is JobStatus.RUNNING and is_expired(j.lease_expires_at, now)
            ]
            return [self._rescue(job, now, backoff) for job in expired]

    def register_node(self, info: NodeInfo, lease_seconds: int) -> None:
        """Create or revive this node's row; NodeConflict if exclusive and another is live."""
        with self._lock:
            now = self._clock()
            if self._exclusive and self._other_live_node(info.name, now):
                raise NodeConflict("another scheduler is running against this store")
            expires = lease_expires_at(now, lease_seconds)
            self._nodes[info.name] = NodeRecord(info, NodeStatus.RUNNING.value, now, now, expires)

    def stop_node(self, node: str) -> None:
        """Mark this node stopped."""
        with self._lock:
            record = self._nodes.get(node)
            if record is not None:
                record.status, record.stopped_at = NodeStatus.STOPPED.value, self._clock()

    def running_count(self) -> int:
        """Jobs running system-wide."""
        with self._lock:
            return self._running_count()

    # -- internals (called with the lock held) -------------------------------------------

    def _running_count(self) -> int:
        return sum(1 for j in self._jobs.values() if j.status is JobStatus.RUNNING)

    def _held(self, claim: ClaimedJob) -> JobRecord | None:
        """The job if `claim` still holds its lease: the fence on every write."""
        job = self._jobs.get(claim.id)
        if job is None or job.status is not JobStatus.RUNNING:
            return None
        return job if job.lease_token == claim.lease_token else None

    def _start(self, job: JobRecord, node: str, now: datetime, lease: int) -> ClaimedJob:
        token = uuid.uuid4().hex
        self._set_status(job, JobStatus.RUNNING, now)
        job.attempts += 1
        job.node, job.lease_token = node, token
        job.lease_expires_at = lease_expires_at(now, lease)
        job.started_at = now
        execution = ExecutionRecord(self._next_execution_id, job.id, job.attempts, node, now, token)
        self._next_execution_id += 1
        job.executions.append(execution)
        return ClaimedJob(
            job.id, job.owner_id, job.task, copy.deepcopy(job.args), job.attempts,
            job.max_attempts, job.timeout_seconds, job.deadline, token, execution.id, node, now,
            eligible_at=eligible_since(job.queued_at or job.created_at, job.run_at),
            concurrency_key=job.concurrency_key,
        )

    def _rescue(self, job: JobRecord, now: datetime, backoff: Callable[[int], float]) -> Finished:
        error = f"lost: node {job.node} stopped renewing the lease"
        self._close_running(job, ExecutionStatus.LOST, now, error)
        job.error = error
        self._retry_or_fail(job, now, backoff(job.attempts))
        return Finished(job.id, job.owner_id, job.status)

    def _retry_or_fail(self, job: JobRecord, now: datetime, delay: float) -> None:
        if job.attempts < job.max_attempts:
            self._set_status(job, JobStatus.PENDING, now)
            job.run_at = now + timedelta(seconds=delay)
        else:
            self._end(job, JobStatus.FAILED, now)

    def _end(self, job: JobRecord, status: JobStatus, now: datetime) -> None:
        self._set_status(job, status, now)
        job.finished_at = now
        job.deadline_missed = job.deadline is not None and now > job.deadline

    def _set_status(self, job: JobRecord, status: JobStatus, now: datetime) -> None:
        job.status = transition(job.status, status)  # a store bug must not pass silently
        job.updated_at = now
        if status is not JobStatus.RUNNING:
            job.node = job.lease_token = job.lease_expires_at = None

    def _execution(self, job: JobRecord, execution_id: int) -> ExecutionRecord:
        return next(e for e in job.executions if e.id == execution_id)

    def _close(
        self, job: JobRecord, execution_id: int, status: ExecutionStatus, now: datetime,
        error: str | None, output: str | None,
    ) -> None:
        execution = self._execution(job, execution_id)
        execution.status, execution.finished_at, execution.error = status, now, error
        execution.duration_seconds = (now - execution.started_at).total_seconds()
        execution.lease_token = None
        if output is not None:
            execution.output = output

    def _close_running(
        self, job: JobRecord, status: ExecutionStatus, now: datetime, error: str,
    ) -> None:
        for execution in job.executions:
            if execution.status is ExecutionStatus.RUNNING:
                self._close(job, execution.id, status, now, error, None)

    def _other_live_node(self, name: str, now: datetime) -> bool:
        return any(
            n != name and r.status == NodeStatus.RUNNING.value
            and not is_expired(r.lease_expires_at, now)
            for n, r in self._nodes.items()
        )


def _eligible(job: JobRecord | None, now: datetime) -> bool:
    if job is None or job.status is not JobStatus.PENDING:
        return False
    return job.run_at is None or job.run_at <= now

