"""Batches job facts so a browser gets at most one `job_updates` per interval.

Pure and clock-driven: `add` records facts, `take(now)` hands back everything collected once
the interval since the last batch has passed. The latest state always wins because a batch
carries ids only; the sender reads each job's current row when it sends.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

from ..scheduler.events import Event, JobDeleted

FLUSH_INTERVAL = 0.25  # SPEC §7: within 250 ms, at most ~4 events a second per client
STATS_INTERVAL = 1.0  # SPEC §7: stats at most once a second while anything changes


@dataclass(slots=True)
class Batch:
    changed: dict[int, int] = field(default_factory=dict)  # job id -> owner id
    deleted: dict[int, int] = field(default_factory=dict)
    stats_owners: set[int] = field(default_factory=set)  # owners whose stats should go out

    def __bool__(self) -> bool:
        return bool(self.changed or self.deleted or self.stats_owners)


class Coalescer:
    """Thread-safe accumulator of facts with a minimum interval between batches."""

    def __init__(self, interval: float = FLUSH_INTERVAL, stats_interval: float = STATS_INTERVAL):
        self.interval = interval
        self.stats_interval = stats_interval
        self._lock = threading.Lock()
        self._changed: dict[int, int] = {}
        self._deleted: dict[int, int] = {}
        self._stats_owners: set[int] = set()
        self._last_batch = float("-inf")
        self._last_stats = float("-inf")

    def add(self, event: Event) -> None:
        with self._lock:
            if isinstance(event, JobDeleted):
                self._changed.pop(event.job_id, None)
                self._deleted[event.job_id] = event.owner_id
            else:
                self._changed[event.job_id] = event.owner_id
            self._stats_owners.add(event.owner_id)

    def due_in(self, now: float) -> float | None:
        """Seconds until a batch may be taken (0: now), or None when nothing is waiting."""
        with self._lock:
            if self._changed or self._deleted:
                return max(0.0, self._last_batch + self.interval - now)
            if self._stats_owners:
                return max(0.0, self._last_stats + self.stats_interval - now)
            return None

    def take(self, now: float) -> Batch:
        """Everything due at `now`; empty when the interval has not passed yet.

        The interval counts from `now`; the sender calls `sent` once the batch is out, so
        that time spent reading and serialising jobs never shortens the gap between sends.
        """
        with self._lock:
            batch = Batch()
            if (self._changed or self._deleted) and now - self._last_batch >= self.interval:
                batch.changed, self._changed = self._changed, {}
                batch.deleted, self._deleted = self._deleted, {}
                self._last_batch = now
            if self._stats_owners and now - self._last_stats >= self.stats_interval:
                batch.stats_owners, self._stats_owners = self._stats_owners, set()
                self._last_stats = now
            return batch

    def sent(self, batch: Batch, now: float) -> None:
        """`batch` finished sending at `now`: the next one waits a full interval from here."""
        with self._lock:
            if batch.changed or batch.deleted:
                self._last_batch = max(self._last_batch, now)
            if batch.stats_owners:
                self._last_stats = max(self._last_stats, now)

    def defer_stats(self, owners: set[int], now: float) -> None:
        """Stats taken at `now` that could not go out: try them again a stats interval on."""
        with self._lock:
            self._stats_owners |= owners
            self._last_stats = max(self._last_stats, now)
