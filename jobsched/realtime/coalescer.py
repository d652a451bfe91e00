"""Batches job facts so a browser gets at most ~4 `job_updates` a second, each change within
250 ms.

Pure and clock-driven: `add` records facts, `take(now)` hands back everything collected once
a batch may go, and the sender calls `sent(now)` when its emits are done. The latest state
always wins because a batch carries ids only; the sender reads each job's current row when
it sends.

A batch goes SETTLE after the first fact it holds (a job's creation, start and end often
come within a few milliseconds: one event instead of three), never sooner than INTERVAL
after the previous batch went out, and never sooner than SPAN after the one before that.
So any five batches are at least 2 × SPAN > 1 s apart (at most four a second), while a
change after a quiet moment waits SETTLE, and one right after a batch waits INTERVAL (in a
sustained stream, gaps alternate INTERVAL and SPAN − INTERVAL). Counting from the end of a
send, which is when the browser sees it, keeps the arrivals that far apart even when a send
is slow.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

from ..scheduler.events import Event, JobDeleted

INTERVAL = 0.2  # SPEC §7: within 250 ms, leaving the rest for reading and sending
SPAN = 0.55  # SPEC §7: ~4 a second; five batches span 1.1 s (0.1 s for jitter on the way)
SETTLE = 0.05  # how long the first fact of a batch waits for company
STATS_INTERVAL = 1.0  # SPEC §7: stats at most once a second while anything changes

NEVER = float("-inf")


@dataclass(slots=True)
class Batch:
    changed: dict[int, int] = field(default_factory=dict)  # job id -> owner id
    deleted: dict[int, int] = field(default_factory=dict)
    stats_owners: set[int] = field(default_factory=set)  # owners whose stats should go out

    def __bool__(self) -> bool:
        return bool(self.changed or self.deleted or self.stats_owners)


class Coalescer:
    """Thread-safe accumulator of facts, paced as the module says."""

    def __init__(self, interval: float = INTERVAL, span: float = SPAN, settle: float = SETTLE,
                 stats_interval: float = STATS_INTERVAL) -> None:
        self.interval, self.span, self.settle = interval, span, settle
        self.stats_interval = stats_interval
        self._lock = threading.Lock()
        self._changed: dict[int, int] = {}
        self._deleted: dict[int, int] = {}
        self._stats_owners: set[int] = set()
        self._first_fact = NEVER  # when the oldest fact not yet taken came
        self._sent = (NEVER, NEVER)  # when the last batch went out, and the one before
        self._last_stats = NEVER

    def add(self, event: Event, now: float) -> None:
        with self._lock:
            if not (self._changed or self._deleted):
                self._first_fact = now
            if isinstance(event, JobDeleted):
                self._changed.pop(event.job_id, None)
                self._deleted[event.job_id] = event.owner_id
            else:
                self._changed[event.job_id] = event.owner_id
            self._stats_owners.add(event.owner_id)

    def due_in(self, now: float) -> float | None:
        """Seconds until a batch may be taken (0: now), or None when nothing is waiting."""
        with self._lock:
            waits = []
            if self._changed or self._deleted:
                waits.append(self._updates_at() - now)
            if self._stats_owners:
                waits.append(self._stats_at() - now)
            return max(0.0, min(waits)) if waits else None

    def take(self, now: float) -> Batch:
        """Everything due at `now` (an empty batch when nothing is)."""
        with self._lock:
            batch = Batch()
            if (self._changed or self._deleted) and now >= self._updates_at():
                batch.changed, self._changed = self._changed, {}
                batch.deleted, self._deleted = self._deleted, {}
            if self._stats_owners and now >= self._stats_at():
                batch.stats_owners, self._stats_owners = self._stats_owners, set()
                self._last_stats = now
            return batch

    def sent(self, batch: Batch, now: float) -> None:
        """`batch` went out at `now`: the next changes' waits count from here."""
        if batch.changed or batch.deleted:
            with self._lock:
                self._sent = (now, self._sent[0])

    def _updates_at(self) -> float:
        last, before_last = self._sent
        return max(self._first_fact + self.settle, last + self.interval,
                   before_last + self.span)

    def _stats_at(self) -> float:
        """Stats a second after the last ones, and with the changes they count when those
        are still waiting."""
        due = self._last_stats + self.stats_interval
        if self._changed or self._deleted:
            due = max(due, self._updates_at())
        return due
