"""The attempts a node is running, and the rule that each ends with exactly one write.

An attempt can end three ways that may race: its task returns, the node hands it back on
shutdown, or the worker dies. `RunningAttempts.settle` lets exactly one of them write.
"""
from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

from .executor import AttemptContext
from .registry import Task
from .store import ClaimedJob


class Attempt:
    """Mutable bookkeeping for one running attempt (not a value, hence no dataclass)."""

    __slots__ = ("claim", "task", "ctx", "deadline", "handle", "settled", "reported",
                 "next_report")

    def __init__(self, claim: ClaimedJob, task: Task | None, ctx: AttemptContext,
                 deadline: datetime) -> None:
        self.claim, self.task, self.ctx, self.deadline = claim, task, ctx, deadline
        self.handle: Any = None  # what spawn returned
        self.settled = False  # set once, under RunningAttempts' lock
        self.reported = 0  # the context version last sent with store.report
        self.next_report: datetime | None = None

    def elapsed(self, now: datetime) -> float:
        """Seconds the attempt has run (node clock): its deadline is start + timeout."""
        started = self.deadline - timedelta(seconds=self.claim.timeout_seconds)
        return max((now - started).total_seconds(), 0.0)


class RunningAttempts:
    """Thread-safe set of a node's attempts, keyed by lease token.

    Keyed by token, not job id: after a lost lease the same job may be claimed here again
    while the old attempt's worker is still winding down.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_token: dict[str, Attempt] = {}

    def __len__(self) -> int:
        """Attempts holding a slot, including those whose final write is in flight."""
        with self._lock:
            return len(self._by_token)

    def add(self, attempt: Attempt) -> None:
        """Take a slot for a freshly claimed attempt."""
        with self._lock:
            self._by_token[attempt.claim.lease_token] = attempt

    def active(self) -> list[Attempt]:
        """Attempts still running (their final write not yet begun)."""
        with self._lock:
            return [a for a in self._by_token.values() if not a.settled]

    def of_jobs(self, job_ids: set[int]) -> list[Attempt]:
        """Active attempts of these jobs."""
        return [a for a in self.active() if a.claim.id in job_ids]

    def tokens(self) -> set[str]:
        """Lease tokens of every attempt holding a slot, final writes in flight included:
        the leases the node's heartbeat must keep alive."""
        with self._lock:
            return set(self._by_token)

    def job_ids(self) -> list[int]:
        """Ids of the jobs holding slots, sorted."""
        with self._lock:
            return sorted(a.claim.id for a in self._by_token.values())

    def settle(self, attempt: Attempt) -> bool:
        """True for the one caller allowed to write this attempt's end; False for others."""
        with self._lock:
            if attempt.settled:
                return False
            attempt.settled = True
            return True

    def release(self, attempt: Attempt) -> None:
        """Free the slot once the final write is done."""
        with self._lock:
            self._by_token.pop(attempt.claim.lease_token, None)
