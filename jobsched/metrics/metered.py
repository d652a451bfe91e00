"""`MeteredStore`: a JobStore that records the scheduler's metrics around the real store.

The scheduler core knows nothing of Prometheus: the runner wraps the node's store in this
decorator, which times claims, sees each attempt start and end, and counts rescues. Only
writes that took effect count, so an attempt whose lease was lost (cancelled, rescued
elsewhere) is counted once, by whoever recorded its end.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from ..scheduler.policy import STRICT, QueuePolicy
from ..scheduler.states import ExecutionStatus
from ..scheduler.store import (
    Backoff,
    ClaimBatch,
    ClaimedJob,
    Finished,
    JobStore,
    NodeInfo,
    Outcome,
)
from .process import SchedulerMetrics

Monotonic = Callable[[], float]


class MeteredStore:
    """Delegates every JobStore call to `store`; claim, finish, hand_back and rescue_expired
    also record metrics labelled by node."""

    def __init__(self, store: JobStore, metrics: SchedulerMetrics,
                 monotonic: Monotonic = time.monotonic) -> None:
        self._store, self._metrics, self._monotonic = store, metrics, monotonic
        self._node = ""  # learnt at register_node: rescue_expired is not told who asks
        # lease token -> when its claim returned. Plain dict operations are atomic, and each
        # token is added once (claim) and removed once (its one final write).
        self._began: dict[str, float] = {}

    def __getattr__(self, name: str) -> Any:
        """Every other JobStore method is the wrapped store's, unchanged."""
        if name.startswith("_"):  # never delegate private names (e.g. before __init__ ran)
            raise AttributeError(name)
        return getattr(self._store, name)

    def register_node(self, info: NodeInfo, lease_seconds: int) -> None:
        """Register the node, remembering its name for the series that need one."""
        self._store.register_node(info, lease_seconds)
        self._node = info.name

    def claim(
        self, candidate_ids: Sequence[int], node: str, max_claims: int, limit: int,
        lease_seconds: int, per_user: int | None = None, policy: QueuePolicy = STRICT,
    ) -> ClaimBatch:
        """Claim, timing the transaction and noting how long each claimed job waited."""
        started = self._monotonic()
        claims = self._store.claim(candidate_ids, node, max_claims, limit, lease_seconds,
                                   per_user, policy)
        now = self._monotonic()
        self._metrics.claim_seconds.labels(node).observe(now - started)
        for claim in claims:
            self._began[claim.lease_token] = now
            if claim.eligible_at is not None:
                waited = (claim.started_at - claim.eligible_at).total_seconds()
                self._metrics.queue_wait_seconds.labels(node).observe(max(waited, 0.0))
        return claims

    def finish(self, claim: ClaimedJob, outcome: Outcome) -> Finished | None:
        """End the attempt; count it by outcome if this write recorded the end."""
        finished = self._store.finish(claim, outcome)
        self._ended(claim, outcome.status if finished is not None else None)
        return finished

    def hand_back(self, claim: ClaimedJob) -> Finished | None:
        """Hand the job back; the attempt counts as `lost` if this write recorded it."""
        finished = self._store.hand_back(claim)
        self._ended(claim, ExecutionStatus.LOST if finished is not None else None)
        return finished

    def rescue_expired(self, backoff: Backoff) -> list[Finished]:
        """Rescue expired leases, counting the jobs this node took over."""
        rescued = self._store.rescue_expired(backoff)
        if rescued:
            self._metrics.rescues.labels(self._node).inc(len(rescued))
        return rescued

    def _ended(self, claim: ClaimedJob, outcome: ExecutionStatus | None) -> None:
        """Record an attempt's end (None: the lease was lost, someone else recorded it)."""
        began = self._began.pop(claim.lease_token, None)
        if outcome is None:
            return
        self._metrics.executions.labels(claim.node, outcome.value).inc()
        if began is not None:
            self._metrics.job_seconds.labels(claim.node, claim.task, outcome.value).observe(
                max(self._monotonic() - began, 0.0))
