"""What the scheduler needs from storage: the `JobStore` protocol and the values it trades.

Two implementations honour one contract test suite: `InMemoryJobStore` (scheduler/memory.py,
for pure tests) and `SqlJobStore` (jobs/store.py, SQLite and PostgreSQL). Every write to a
running job is fenced by its lease token: a store answers "lease lost" (None / False) instead
of touching a job whose token changed, so a rescued or stale worker can never overwrite a
newer state.
"""
from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from .fairness import Hold
from .policy import STRICT, QueuePolicy
from .states import ExecutionStatus, JobStatus, Priority


@dataclass(frozen=True, slots=True)
class QueuedJob:
    """What the pending heap needs of a pending job: its queue key and when it may start."""

    id: int
    priority: Priority
    deadline: datetime | None
    run_at: datetime | None
    # Its fair-use groups (SPEC §10): the heap sets aside the jobs of a group a cap holds.
    owner_id: int | None = None
    concurrency_key: str | None = None
    # What the queue policy (SPEC §10, policy.py) orders by over time: when the job was
    # queued (created or retried by its owner; None: unknown) and its expected run time.
    queued_at: datetime | None = None
    expected_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class Dequeued:
    """A job that is not pending any more (claimed, finished, cancelled, deleted)."""

    id: int


@dataclass(frozen=True, slots=True)
class Released:
    """A job stopped running (finished, back to pending, cancelled, deleted, rescued): a
    slot of its owner and of its concurrency key is free. owner_id None: someone's."""

    owner_id: int | None
    concurrency_key: str | None = None


# What a change feed says of one job: its new queue state (pending: a QueuedJob; anything
# else: Dequeued), or only its id (an int) when the state is unknown and must be re-read;
# and, after a job left `running`, whose slot that freed (Released).
JobChange = QueuedJob | Dequeued | Released | int


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """A job this node now runs: the attempt's execution row exists and the lease is ours."""

    id: int
    owner_id: int
    task: str
    args: dict[str, Any]
    attempt: int  # 1-based number of this attempt (the job's `attempts` after the claim)
    max_attempts: int
    timeout_seconds: int
    deadline: datetime | None
    lease_token: str
    execution_id: int
    node: str
    started_at: datetime
    # When the job could first have started this attempt: the later of its creation and its
    # run_at (a retry's backoff end). started_at - eligible_at is the time it waited.
    eligible_at: datetime | None = None
    concurrency_key: str | None = None


class ClaimBatch(list[ClaimedJob]):
    """What one claim did: the jobs it started, in queue order (the list itself), and the
    candidates a fair-use cap held back although they were eligible (`held`, by job id)."""

    def __init__(self, claimed: Iterable[ClaimedJob] = (),
                 held: dict[int, Hold] | None = None) -> None:
        super().__init__(claimed)
        self.held: dict[int, Hold] = held or {}


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one attempt ended. `retry_delay` (seconds) applies when attempts remain."""

    status: ExecutionStatus  # completed, failed, timed_out or cancelled
    result: Any = None
    error: str | None = None
    output: str = ""
    retry_delay: float = 0.0
    # The task's last progress report: it may be newer than the last one flushed while the
    # attempt ran, so the final write records it (a finished sleep shows 100, not 97).
    progress: int | None = None


@dataclass(frozen=True, slots=True)
class Finished:
    """What a fenced write did: the job's new status, or nothing when the lease was lost."""

    job_id: int
    owner_id: int
    status: JobStatus
    # Jobs that depend on it and changed with it (SPEC §12): released or cancelled.
    dependents: tuple[tuple[int, int], ...] = ()  # (job id, owner id)


@dataclass(frozen=True, slots=True)
class NodeInfo:
    name: str
    hostname: str
    pid: int
    concurrency: int
    meta: dict[str, Any] = field(default_factory=dict)


class NodeConflict(Exception):
    """Another live scheduler owns what this one asked for (e.g. SQLite allows only one)."""


class JobStore(Protocol):
    """Storage the scheduler core runs on. Times are the store's clock (the database's).

    A user's cancel of a running job (not part of this protocol: jobs/service.py) ends its
    lease in the same transaction: the job's lease token is cleared and its running
    execution closed as `cancelled`. lost_leases() then reports the token, the node stops
    the attempt, and the node's later finish() finds the lease lost (None).
    """

    def now(self) -> datetime:
        """The store's current time (PostgreSQL: now(); used for run_at and leases)."""

    def pending(self) -> list[QueuedJob]:
        """Every pending job, eligible or waiting for its run_at, but those waiting for jobs
        they depend on (heap load and reconcile)."""

    def fetch_queued(self, ids: Iterable[int]) -> list[QueuedJob]:
        """Current queue state of these jobs; a job not pending any more (or waiting for
        jobs it depends on) is left out."""

    def claim(
        self, candidate_ids: Sequence[int], node: str, max_claims: int, limit: int,
        lease_seconds: int, per_user: int | None = None, policy: QueuePolicy = STRICT,
    ) -> ClaimBatch:
        """Atomically start up to `max_claims` of the candidates that are still pending and
        eligible, in queue order (under the queue `policy`, at the store's now), never
        letting the system-wide running count exceed `limit`, nor any owner's exceed its
        cap (users.max_running, else `per_user`; None: no cap), nor any (owner,
        concurrency key)'s its concurrency_limit (fairness.py; the held-back candidates
        come back in the batch's `held`).
        Each claimed job gets attempts + 1, a fresh lease token, a lease expiry of store-now +
        `lease_seconds`, and a `running` execution row. Returns what it claimed (maybe none)."""

    def heartbeat(self, node: str, lease_seconds: int, tokens: Collection[str]) -> None:
        """Renew the node's row and the leases it still holds, named by their tokens (one
        statement each). Only the tokens: a job the node gave up on (its final write failed
        through an outage) must expire and be rescued, not be kept running forever."""

    def renew(self, claim: ClaimedJob, lease_seconds: int) -> bool:
        """Extend one lease; False when the lease is lost (job cancelled, rescued, deleted)."""

    def report(self, claim: ClaimedJob, progress: int | None, output: str | None) -> bool:
        """Record progress (0-100) and/or the output so far; False when the lease is lost."""

    def finish(self, claim: ClaimedJob, outcome: Outcome) -> Finished | None:
        """End the attempt: execution gets outcome.status; the job becomes completed, pending
        again after `retry_delay` (failed/timed_out with attempts left), or failed. A
        `cancelled` outcome with the lease still held (rare: a user's cancel ends the lease
        first) closes the execution and cancels the job. A finished job gets finished_at and
        deadline_missed. None when the lease was lost."""

    def hand_back(self, claim: ClaimedJob) -> Finished | None:
        """Shutdown: the job becomes pending again (attempts - 1, the attempt did not count)
        and its execution `lost`; None when the lease was lost."""

    def lost_leases(self, tokens: Iterable[str]) -> set[str]:
        """Which of these lease tokens no longer hold (cancelled, rescued, deleted jobs)."""

    def rescue_expired(self, backoff: Callable[[int], float]) -> list[Finished]:
        """In one conditional statement per job set, take every running job whose lease expired:
        its execution becomes `lost`; the job is pending after backoff(attempts) seconds if
        attempts remain, else failed."""

    def register_node(self, info: NodeInfo, lease_seconds: int) -> None:
        """Create or revive this node's row; raise NodeConflict where only one may run."""

    def stop_node(self, node: str) -> None:
        """Mark this node stopped (graceful exit)."""

    def running_count(self) -> int:
        """Jobs running system-wide."""


Backoff = Callable[[int], float]
