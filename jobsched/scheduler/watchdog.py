"""`Watchdog`: keeps a node's running attempts honest, on its own worker.

Every step it enforces time-outs, flushes progress and output to the store (at most ~2x a
second per attempt), stops attempts whose lease was lost (a user's cancel reaches a running
job this way, within ~1-2 s), and renews the node's leases. It runs apart from the tasks,
so a busy task never starves the heartbeat (PITFALLS: heartbeats on their own worker).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from .attempts import Attempt, RunningAttempts
from .clock import Clock
from .eventlog import event_fields
from .leases import heartbeat_interval
from .store import JobStore

log = logging.getLogger(__name__)

STEP_SECONDS = 0.25  # real time between steps
REPORT_INTERVAL_SECONDS = 0.5  # progress/output reach the store at most ~2x a second
LOST_LEASE_CHECK_SECONDS = 1.0
HEARTBEAT_RETRY_SECONDS = 1.0  # after a failed heartbeat: well inside the lease


class Watchdog:
    """Time-outs, reports, lost leases and heartbeats for one node's attempts."""

    def __init__(
        self, store: JobStore, running: RunningAttempts, *, name: str, lease_seconds: int,
        clock: Clock, publish: Callable[[int, int], None],
    ) -> None:
        self._store, self._running, self._clock = store, running, clock
        self._name, self._lease_seconds, self._publish = name, lease_seconds, publish
        now = clock()
        self._next_lost_check = self._next_heartbeat = now
        self._heartbeat_failures = 0  # in a row: only the first one logs a traceback

    def run(self, stop: Any) -> None:
        """Step every STEP_SECONDS until the `stop` event is set."""
        while not stop.wait(STEP_SECONDS):
            try:
                self.step()
            except Exception:  # the heartbeat must outlive anything
                log.exception("node %s: watchdog step failed", self._name)

    def step(self) -> None:
        """One pass: time-outs, then reports, lost leases and the heartbeat when due."""
        now = self._clock()
        attempts = self._running.active()
        self._enforce_timeouts(attempts, now)
        self._guard("report", self._flush_reports, attempts, now)
        if now >= self._next_lost_check:
            self._next_lost_check = now + timedelta(seconds=LOST_LEASE_CHECK_SECONDS)
            self._guard("lost_leases", self._stop_lost, attempts)
        if now >= self._next_heartbeat:
            self._heartbeat(now)

    def _enforce_timeouts(self, attempts: list[Attempt], now: datetime) -> None:
        for attempt in attempts:
            if now >= attempt.deadline and not attempt.ctx.cancelled():
                log.info("job %s node %s: timed out", attempt.claim.id, self._name,
                         extra=event_fields(attempt.claim.id, self._name, "timed_out",
                                            attempt=attempt.claim.attempt))
                attempt.ctx.stop("timed_out")

    def _flush_reports(self, attempts: list[Attempt], now: datetime) -> None:
        for attempt in attempts:
            if attempt.ctx.version == attempt.reported:
                continue  # nothing new since the last report
            if attempt.next_report is not None and now < attempt.next_report:
                continue
            progress, output, version = attempt.ctx.snapshot()
            attempt.reported = version
            attempt.next_report = now + timedelta(seconds=REPORT_INTERVAL_SECONDS)
            if self._store.report(attempt.claim, progress, output):
                self._publish(attempt.claim.id, attempt.claim.owner_id)
            else:
                attempt.ctx.stop("cancelled")  # lease lost: nothing more of ours counts

    def _stop_lost(self, attempts: list[Attempt]) -> None:
        if not attempts:
            return
        lost = self._store.lost_leases([a.claim.lease_token for a in attempts])
        for attempt in attempts:
            if attempt.claim.lease_token in lost:
                log.info("job %s node %s: lease lost (cancelled, rescued or deleted)",
                         attempt.claim.id, self._name,
                         extra=event_fields(attempt.claim.id, self._name, "lease_lost",
                                            attempt=attempt.claim.attempt))
                attempt.ctx.stop("cancelled")

    def _heartbeat(self, now: datetime) -> None:
        try:
            self._store.heartbeat(self._name, self._lease_seconds, self._running.tokens())
        except Exception:
            self._heartbeat_failures += 1
            log.warning("node %s: heartbeat failed (%d in a row)", self._name,
                        self._heartbeat_failures, exc_info=self._heartbeat_failures == 1)
            self._next_heartbeat = now + timedelta(seconds=HEARTBEAT_RETRY_SECONDS)
            return
        self._heartbeat_failures = 0
        interval = heartbeat_interval(self._lease_seconds)
        self._next_heartbeat = now + timedelta(seconds=interval)

    def _guard(self, what: str, fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            log.warning("node %s: store error during %s", self._name, what, exc_info=True)
