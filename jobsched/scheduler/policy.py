"""The queue policy (SPEC §10): starvation control by aging, and the overload policy.

Both are opt-in and change SPEC §5's order over time, so the order of the pending jobs is a
function of *now*:

- Aging (`JOBSCHED_AGING_SECONDS` = N): a job eligible and pending for N seconds is ordered
  one class higher (low → medium), after 2N two classes higher (→ high). It counts from the
  later of when it was queued (created or retried by its owner) and its run_at (a retry's
  backoff end), so a job waiting for its run_at does not age.
- `feasible_first`: within one class, a job whose deadline can no longer be met (deadline
  before now + its expected run time) goes after the class's jobs that can still meet
  theirs, and before the class's jobs with no deadline.

This module is the rule in plain Python: `QueuePolicy.place` is where a job stands at `now`
and when that next changes (the heap re-keys it then). storage/queue.py says the same in SQL
for the claim and the API's `sort=queue`; a property test keeps the two in step.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from .clock import from_micros, to_micros
from .states import PRIORITY_RANK, Priority


class Overload(StrEnum):
    STRICT = "strict"  # SPEC §5: priority, then earliest deadline first
    FEASIBLE_FIRST = "feasible_first"


class Tier:
    """A job's standing within its class, by its deadline: the order's second key."""

    FEASIBLE = 0  # has a deadline it can still meet (under `strict`: has a deadline)
    LATE = 1  # has a deadline it can no longer meet (feasible_first only)
    NONE = 2  # has no deadline


# JOBSCHED_AGING_SECONDS: a second to a year.
AGING_SECONDS_RANGE = (1, 365 * 86_400)

# A class can only rise to the top one: an old enough job is ordered as `high`.
MAX_AGING_STEPS = max(PRIORITY_RANK.values())

_BY_RANK = {rank: priority for priority, rank in PRIORITY_RANK.items()}


@dataclass(frozen=True, slots=True)
class Place:
    """Where a job stands in the order at one instant, and until when it stands there."""

    rank: int  # its effective class (0 = high)
    tier: int  # a Tier value
    changes_at: datetime | None  # the first instant it stands elsewhere; None: never


@dataclass(frozen=True, slots=True)
class QueuePolicy:
    """The deployment's queue policy; the default is SPEC §5's order exactly."""

    aging_seconds: int | None = None
    overload: Overload = Overload.STRICT

    @property
    def changes_over_time(self) -> bool:
        """Whether a pending job's place can change while nothing about it does."""
        return self.aging_seconds is not None or self.overload is Overload.FEASIBLE_FIRST

    def place(
        self, rank: int, deadline: datetime | None, expected_seconds: float | None,
        eligible_since: datetime | None, now: datetime,
    ) -> Place:
        """Where an eligible job of class `rank` stands at `now` (all datetimes aware).
        `eligible_since` None: unknown, the job does not age."""
        rank, tier, changes = self.place_us(
            rank, _us(deadline), round((expected_seconds or 0) * 1_000_000),
            _us(eligible_since), to_micros(now))
        return Place(rank, tier, None if changes is None else from_micros(changes))

    def place_us(
        self, rank: int, deadline_us: int | None, expected_us: int, since_us: int | None,
        now_us: int,
    ) -> tuple[int, int, int | None]:
        """`place` in microseconds since the epoch, as the heap keeps times: the rule
        itself. Returns (rank, tier, when it changes or None)."""
        steps, changes = 0, None
        if self.aging_seconds is not None and since_us is not None:
            step = self.aging_seconds * 1_000_000
            steps = min(MAX_AGING_STEPS, max(0, (now_us - since_us) // step))
            if steps < rank:
                changes = since_us + (steps + 1) * step
        if deadline_us is None:
            return max(0, rank - steps), Tier.NONE, changes
        if self.overload is not Overload.FEASIBLE_FIRST:
            return max(0, rank - steps), Tier.FEASIBLE, changes
        # Late when deadline - now < expected, i.e. from just after deadline - expected.
        last_feasible = deadline_us - expected_us
        if now_us > last_feasible:
            return max(0, rank - steps), Tier.LATE, changes
        late_from = last_feasible + 1
        return (max(0, rank - steps), Tier.FEASIBLE,
                late_from if changes is None else min(changes, late_from))

    def effective_priority(
        self, priority: Priority | str, eligible_since: datetime | None, now: datetime,
    ) -> Priority:
        """The class a pending job of `priority` is ordered in at `now` (SPEC §10's
        `effective_priority`): its own, or the one aging gave it."""
        rank = self.place(PRIORITY_RANK[Priority(priority)], None, None, eligible_since, now).rank
        return _BY_RANK[rank]


STRICT = QueuePolicy()


def queue_policy(config: Mapping[str, Any]) -> QueuePolicy:
    """The deployment's policy from its settings (JOBSCHED_AGING_SECONDS,
    JOBSCHED_OVERLOAD_POLICY; config.py checks them)."""
    return QueuePolicy(config.get("JOBSCHED_AGING_SECONDS"),
                       Overload(config.get("JOBSCHED_OVERLOAD_POLICY", Overload.STRICT)))


def _us(value: datetime | None) -> int | None:
    return None if value is None else to_micros(value)


def eligible_since(queued_at: datetime | None, run_at: datetime | None) -> datetime | None:
    """When a pending job became eligible: the later of its queueing and its run_at."""
    if queued_at is None or run_at is None:
        return queued_at
    return max(queued_at, run_at)
