"""Figure 5: scheduling quality under overload, the real queue order against plain FIFO.

A discrete-event simulation with a fake clock, not a live system: the same arrivals (a
Poisson stream at 1.25× what the slots can serve, mixed priorities and deadlines, one
fixed service time) are served once in the order of jobsched's own `PendingHeap` (which
orders by `queue_key`: priority, then earliest deadline, then id) and once in arrival
order. A job misses its deadline when it finishes after it (jobs with no deadline never
miss). Each run uses another random seed.
"""
from __future__ import annotations

import heapq
import random
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from .plan import Plan
from .results import Figure, below

SLOTS = 3  # JOBSCHED_MAX_CONCURRENT_JOBS' default
SERVICE_SECONDS = 1.0
OVERLOAD = 1.25  # arrivals per second ÷ what the slots finish per second
PRIORITY_MIX = (("high", 0.2), ("medium", 0.3), ("low", 0.5))
DEADLINE_SHARE = 0.8  # the others have no deadline
SLACK_SECONDS = (5.0, 120.0)  # deadline = arrival + uniform(slack)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Arrival:
    """One simulated job: when it arrives, its priority and its deadline (None: none)."""

    id: int
    at: float  # simulated seconds
    priority: str
    deadline: float | None


class Queue(Protocol):
    """A waiting-job order the simulation serves from."""

    def push(self, job: Arrival) -> None:
        """A job arrived."""

    def take(self, now: float, count: int) -> list[int]:
        """Up to `count` job ids to start at `now`, removed from the queue."""


class RealOrder:
    """jobsched's PendingHeap: candidates in queue_key order, claimed ones discarded."""

    def __init__(self) -> None:
        from jobsched.scheduler.ordering import PendingHeap

        self._heap = PendingHeap()

    def push(self, job: Arrival) -> None:
        """Add the job to the heap with its priority and deadline, as the mirror does."""
        from jobsched.scheduler.states import Priority
        from jobsched.scheduler.store import QueuedJob

        deadline = None if job.deadline is None else _instant(job.deadline)
        self._heap.upsert(QueuedJob(job.id, Priority(job.priority), deadline, None))

    def take(self, now: float, count: int) -> list[int]:
        """The heap's first candidates, which the simulated claim then always wins."""
        ids = self._heap.candidates(_instant(now), count)
        for job_id in ids:
            self._heap.discard(job_id)
        return ids


class Fifo:
    """Arrival order, whatever the priority or deadline."""

    def __init__(self) -> None:
        self._queue: deque[int] = deque()

    def push(self, job: Arrival) -> None:
        """Queue at the back."""
        self._queue.append(job.id)

    def take(self, now: float, count: int) -> list[int]:
        """From the front."""
        return [self._queue.popleft() for _ in range(min(count, len(self._queue)))]


def _instant(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def workload(seed: int, seconds: float) -> list[Arrival]:
    """The overload: Poisson arrivals for `seconds`, priorities and deadlines drawn."""
    rng = random.Random(seed)
    rate = OVERLOAD * SLOTS / SERVICE_SECONDS
    names, weights = zip(*PRIORITY_MIX, strict=True)
    arrivals: list[Arrival] = []
    now = rng.expovariate(rate)
    while now < seconds:
        deadline = now + rng.uniform(*SLACK_SECONDS) if rng.random() < DEADLINE_SHARE else None
        arrivals.append(Arrival(len(arrivals) + 1, now, rng.choices(names, weights)[0],
                                deadline))
        now += rng.expovariate(rate)
    return arrivals


def simulate(arrivals: list[Arrival], queue: Queue) -> dict[int, float]:
    """Serve every arrival with SLOTS slots; job id -> finish time."""
    finishes: dict[int, float] = {}
    running: list[float] = []  # finish times of the busy slots
    pending = deque(arrivals)
    while pending or running:
        now = min(pending[0].at if pending else float("inf"),
                  running[0] if running else float("inf"))
        while running and running[0] <= now:
            heapq.heappop(running)
        while pending and pending[0].at <= now:
            queue.push(pending.popleft())
        for job_id in queue.take(now, SLOTS - len(running)):
            finishes[job_id] = now + SERVICE_SECONDS
            heapq.heappush(running, finishes[job_id])
    return finishes


def misses(arrivals: list[Arrival], finishes: dict[int, float]) -> dict[str, int]:
    """Deadline misses per priority class."""
    missed = {name: 0 for name, _ in PRIORITY_MIX}
    for job in arrivals:
        if job.deadline is not None and finishes[job.id] > job.deadline:
            missed[job.priority] += 1
    return missed


def run(plan: Plan) -> Figure:
    """Both orders over the same workloads, one seed per run."""
    figure = Figure("quality", "5. Scheduling quality under overload (simulation)")
    for seed in range(1, plan.runs + 1):
        arrivals = workload(seed, plan.sim_seconds)
        real = misses(arrivals, simulate(arrivals, RealOrder()))
        fifo = misses(arrivals, simulate(arrivals, Fifo()))
        for name, _ in PRIORITY_MIX:
            with_deadline = sum(1 for a in arrivals if a.priority == name and a.deadline)
            figure.add(f"{name}: jobs with a deadline", "jobs", with_deadline, digits=0)
            figure.add(f"{name}: misses, priority + EDF", "jobs", real[name], digits=0)
            figure.add(f"{name}: misses, FIFO", "jobs", fifo[name], digits=0)
            figure.add(f"{name}: misses EDF − FIFO", "jobs", real[name] - fifo[name],
                       below(0, "0"), digits=0)
    _describe(figure, plan)
    return figure


def _describe(figure: Figure, plan: Plan) -> None:
    mix = ", ".join(f"{int(share * 100)} % {name}" for name, share in PRIORITY_MIX)
    figure.settings += [
        "simulation with a fake clock driving jobsched.scheduler.ordering.PendingHeap "
        "(queue_key order) against a FIFO deque; not a live system",
        f"{SLOTS} slots, every job takes {SERVICE_SECONDS:g} s; Poisson arrivals at "
        f"{OVERLOAD:g}× capacity for {plan.sim_seconds:g} simulated s, then the backlog "
        "drains",
        f"priorities: {mix}; {int(DEADLINE_SHARE * 100)} % have a deadline "
        f"{SLACK_SECONDS[0]:g}–{SLACK_SECONDS[1]:g} s after arrival (uniform)",
        "each run: another random seed; both orders serve the same arrivals",
    ]
