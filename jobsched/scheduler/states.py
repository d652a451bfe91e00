"""Job and execution states, and the one closed table of allowed job transitions."""
from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ExecutionStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    LOST = "lost"


class Priority(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class NodeStatus(StrEnum):
    """A scheduler node's row: running while it heartbeats, stopped once it drained."""

    RUNNING = "running"
    STOPPED = "stopped"


# Lower runs first; not alphabetical order.
PRIORITY_RANK: dict[Priority, int] = {Priority.HIGH: 0, Priority.MEDIUM: 1, Priority.LOW: 2}

FINISHED = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})

# SPEC §4 lifecycle. running -> pending is a retry after an error or a lost worker, or a
# hand-back on shutdown; failed|cancelled -> pending is a manual retry.
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.PENDING: frozenset({JobStatus.RUNNING, JobStatus.CANCELLED}),
    JobStatus.RUNNING: frozenset(
        {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.PENDING, JobStatus.CANCELLED}
    ),
    JobStatus.COMPLETED: frozenset(),
    JobStatus.FAILED: frozenset({JobStatus.PENDING}),
    JobStatus.CANCELLED: frozenset({JobStatus.PENDING}),
}


class InvalidTransition(Exception):
    """A job was asked to move to a state its current state does not allow (API: 409)."""

    def __init__(self, current: JobStatus, target: JobStatus) -> None:
        super().__init__(f"a {current.value} job cannot become {target.value}")
        self.current = current
        self.target = target


def transition(current: JobStatus | str, target: JobStatus | str) -> JobStatus:
    """Return `target` if the table allows current -> target, else raise InvalidTransition."""
    current, target = JobStatus(current), JobStatus(target)
    if target not in TRANSITIONS[current]:
        raise InvalidTransition(current, target)
    return target
