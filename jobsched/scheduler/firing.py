"""`ScheduleFiring`: a scheduler's loop that turns schedules' due fire times into jobs.

Every scheduler runs one; they may all see the same fire time due at once. The store makes
each fire time exactly one job (a unique (schedule, fire time) on jobs), so the loop needs
no coordination. It runs on a worker of its own rather than as a housekeeping chore of the
node: fire times must not wait for the node's next tick, which may be seconds away when the
queue is idle. It sleeps until the earliest next run, but at most `poll_seconds`, because
schedules made or changed by the web arrive with no notification.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from .clock import Clock, utcnow
from .events import EventSink, JobChanged
from .recurrence import ScheduleState, Tick, due_tick

log = logging.getLogger(__name__)

# How soon a schedule made or changed elsewhere is looked at. Known fire times are met on
# time (the loop sleeps until them); a schedule saved less than this before its first fire
# time fires that late, once. More often would cost every idle scheduler a query a second,
# which in the single eventlet process on SQLite blocks the hub (sqlite3 is not green).
POLL_SECONDS = 5.0
ERROR_BACKOFF_SECONDS = 5.0
DUE_BATCH = 100  # schedules handled per pass; a longer backlog continues at once


@dataclass(frozen=True, slots=True)
class DueSchedule:
    """A schedule whose next run has come, as the store read it."""

    id: int
    owner_id: int
    state: ScheduleState
    job: Mapping[str, Any]  # the job template, validated when the schedule was saved


class ScheduleStore(Protocol):
    def due_schedules(self, now: datetime, limit: int) -> list[DueSchedule]:
        """Enabled schedules whose next_run_at is at or before `now`, earliest first."""
        ...

    def advance(self, schedule: DueSchedule, tick: Tick) -> int | None:
        """Apply `tick` if the schedule is still as read: its next run moves on and, for a
        fire time, one job is made (none if any scheduler made it already). Returns the
        new job's id, or None."""
        ...

    def next_run(self) -> datetime | None:
        """The earliest next_run_at of the enabled schedules."""
        ...


class ScheduleFiring:
    """Fire due schedules; `run` loops until `stop`, `fire_due` is one pass (tests)."""

    def __init__(
        self, store: ScheduleStore, sink: EventSink, *, clock: Clock = utcnow,
        wake: Callable[[], Any] = threading.Event, poll_seconds: float = POLL_SECONDS,
        name: str = "scheduler",
    ) -> None:
        self._store, self._sink, self._clock = store, sink, clock
        self._stop = wake()
        self.poll_seconds, self.name = poll_seconds, name

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                pause = self.fire_due()
            except Exception:
                log.warning("node %s: firing schedules failed; retrying in %.0f s", self.name,
                            ERROR_BACKOFF_SECONDS, exc_info=True)
                pause = ERROR_BACKOFF_SECONDS
            self._stop.wait(pause)

    def stop(self) -> None:
        self._stop.set()

    def fire_due(self) -> float:
        """Handle every schedule due now; seconds until the next pass is needed."""
        now = self._clock()
        due = self._store.due_schedules(now, DUE_BATCH)
        for schedule in due:
            self._advance(schedule, now)
        if len(due) == DUE_BATCH:
            return 0.0  # more are due
        return self._pause(self._store.next_run())

    def _advance(self, schedule: DueSchedule, now: datetime) -> None:
        tick = due_tick(schedule.state, now)
        if tick is None:
            return
        job_id = self._store.advance(schedule, tick)
        if job_id is not None:
            log.info("schedule %s node %s: fired job %s for %s", schedule.id, self.name,
                     job_id, tick.fire_at.isoformat() if tick.fire_at else None,
                     extra={"event": "schedule_fired", "job_id": job_id, "node": self.name})
            self._sink.publish(JobChanged(job_id, schedule.owner_id))
        elif tick.skipped is not None:
            log.info("schedule %s: skipped %s, its previous job is still active",
                     schedule.id, tick.skipped.isoformat())

    def _pause(self, next_run: datetime | None) -> float:
        if next_run is None:
            return self.poll_seconds
        seconds = (next_run - self._clock()).total_seconds()
        return min(max(seconds, 0.0), self.poll_seconds)
