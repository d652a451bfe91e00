"""Figure 5: scheduling quality under overload: FIFO, strict order and feasible_first.

A discrete-event simulation with a fake clock, not a live system: the same arrivals (a
Poisson stream faster than the slots can serve, mixed priorities and deadlines) are served
in three orders: arrival order (FIFO); jobsched's `PendingHeap` under the default policy
(strict: priority, then earliest deadline, then id; SPEC §5); and the same heap under the
`feasible_first` overload policy, which orders a job that can no longer meet its deadline
after its class's jobs that still can. A job misses its deadline when it finishes after it
(jobs with no deadline never miss). Each run uses another random seed; every workload is
drawn from it, so a run is deterministic.

Two workloads: `uniform`, where every job takes 1 s (the figure as first measured), and
`mixed`, short, medium and long tasks whose jobs' run times vary around what the task
usually takes. The heap knows a job only by that usual time (`expected_seconds`, what the
task's run-time history says), never by the job's own run time.
"""
from __future__ import annotations

import heapq
import random
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar

from .plan import Plan
from .results import Figure, Target, at_most

SLOTS = 3  # JOBSCHED_MAX_CONCURRENT_JOBS' default
PRIORITY_MIX = (("high", 0.2), ("medium", 0.3), ("low", 0.5))
DEADLINE_SHARE = 0.8  # the others have no deadline
T0 = datetime(2026, 1, 1, tzinfo=UTC)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Task:
    """A kind of job: what it usually takes, and its share of the arrivals."""

    name: str
    seconds: float
    share: float


@dataclass(frozen=True, slots=True)
class Slack:
    """A share of the deadlines: each is arrival + the task's usual time × uniform(low, high)."""

    share: float
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class Workload:
    """What arrives: its tasks, how much jobs vary, how overloaded, and how urgent."""

    name: str
    tasks: tuple[Task, ...]
    spread: float  # a job runs its task's time × uniform(1 − spread, 1 + spread)
    overload: float  # arrivals per second ÷ what the slots finish per second
    slack: tuple[Slack, ...]

    @property
    def mean_seconds(self) -> float:
        """The mean run time of a job (the spread is symmetric)."""
        return sum(task.seconds * task.share for task in self.tasks)


UNIFORM = Workload(
    "uniform", (Task("job", 1.0, 1.0),), spread=0.0, overload=1.25,
    slack=(Slack(1.0, 5.0, 120.0),),
)
# A quarter of the deadlines are tight, 1-3× the usual time: as a job may take 30 % longer,
# some are missed even when started at once.
MIXED = Workload(
    "mixed",
    (Task("short", 0.5, 0.5), Task("medium", 2.0, 0.35), Task("long", 8.0, 0.15)),
    spread=0.3, overload=1.4,
    slack=(Slack(0.25, 1.0, 3.0), Slack(0.75, 3.0, 60.0)),
)
WORKLOADS = (UNIFORM, MIXED)


@dataclass(frozen=True, slots=True)
class Arrival:
    """One simulated job: when it arrives, its priority, its deadline (None: none), how
    long it runs, and how long its task usually takes (what the heap is told)."""

    id: int
    at: float  # simulated seconds
    priority: str
    deadline: float | None
    seconds: float = 1.0
    expected: float = 1.0


class Queue(Protocol):
    """A waiting-job order the simulation serves from."""

    def push(self, job: Arrival) -> None:
        """A job arrived."""

    def take(self, now: float, count: int) -> list[int]:
        """Up to `count` job ids to start at `now`, removed from the queue."""


class RealOrder:
    """jobsched's PendingHeap under a queue policy: candidates in its order at `now`,
    claimed ones discarded. The default policy is SPEC §5's strict order."""

    def __init__(self, overload: str = "strict") -> None:
        from jobsched.scheduler.ordering import PendingHeap
        from jobsched.scheduler.policy import Overload, QueuePolicy

        self._heap = PendingHeap(policy=QueuePolicy(overload=Overload(overload)))

    def push(self, job: Arrival) -> None:
        """Add the job to the heap as the mirror does: priority, deadline, when it was
        queued and its task's usual run time."""
        from jobsched.scheduler.states import Priority
        from jobsched.scheduler.store import QueuedJob

        deadline = None if job.deadline is None else _instant(job.deadline)
        self._heap.upsert(QueuedJob(job.id, Priority(job.priority), deadline, None,
                                    queued_at=_instant(job.at),
                                    expected_seconds=job.expected))

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


# The three orders compared: a label for the report, and a fresh queue per run.
ORDERS = (
    ("FIFO", Fifo),
    ("strict", lambda: RealOrder("strict")),
    ("feasible_first", lambda: RealOrder("feasible_first")),
)


def _instant(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def workload(seed: int, seconds: float, shape: Workload = UNIFORM) -> list[Arrival]:
    """The overload: Poisson arrivals for `seconds`, each job's draws from `seed`."""
    rng = random.Random(seed)
    rate = shape.overload * SLOTS / shape.mean_seconds
    arrivals: list[Arrival] = []
    now = rng.expovariate(rate)
    while now < seconds:
        arrivals.append(_arrival(rng, shape, len(arrivals) + 1, now))
        now += rng.expovariate(rate)
    return arrivals


def _arrival(rng: random.Random, shape: Workload, job_id: int, at: float) -> Arrival:
    """One job's draws. A choice among one option draws nothing, so `uniform` draws what
    the figure drew before it had several workloads: its numbers stay comparable."""
    has_deadline = rng.random() < DEADLINE_SHARE
    slack = _pick(rng, shape.slack, [s.share for s in shape.slack]) if has_deadline else None
    factor = rng.uniform(slack.low, slack.high) if slack else None
    names, weights = zip(*PRIORITY_MIX, strict=True)
    priority = rng.choices(names, weights)[0]
    task = _pick(rng, shape.tasks, [t.share for t in shape.tasks])
    spread = rng.uniform(1 - shape.spread, 1 + shape.spread) if shape.spread else 1.0
    deadline = None if factor is None else at + task.seconds * factor
    return Arrival(job_id, at, priority, deadline, task.seconds * spread, task.seconds)


def _pick(rng: random.Random, options: tuple[T, ...], weights: list[float]) -> T:
    return options[0] if len(options) == 1 else rng.choices(options, weights)[0]


def simulate(arrivals: list[Arrival], queue: Queue) -> dict[int, float]:
    """Serve every arrival with SLOTS slots; job id -> finish time."""
    run_time = {job.id: job.seconds for job in arrivals}
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
            finishes[job_id] = now + run_time[job_id]
            heapq.heappush(running, finishes[job_id])
    return finishes


def misses(arrivals: list[Arrival], finishes: dict[int, float]) -> dict[str, int]:
    """Deadline misses per priority class."""
    missed = {name: 0 for name, _ in PRIORITY_MIX}
    for job in arrivals:
        if job.deadline is not None and finishes[job.id] > job.deadline:
            missed[job.priority] += 1
    return missed


def compare(arrivals: list[Arrival]) -> dict[str, dict[str, int]]:
    """Each order's misses per class, over the same arrivals."""
    return {order: misses(arrivals, simulate(arrivals, make())) for order, make in ORDERS}


def run(plan: Plan) -> Figure:
    """Every workload in the three orders, one seed per run."""
    figure = Figure("quality", "5. Scheduling quality under overload (simulation)")
    # Counts are whole, but the median of an even number of runs can fall halfway.
    digits = 0 if plan.runs % 2 else 1
    for seed in range(1, plan.runs + 1):
        for shape in WORKLOADS:
            arrivals = workload(seed, plan.sim_seconds, shape)
            _record(figure, shape.name, arrivals, compare(arrivals), digits)
    _describe(figure, plan)
    return figure


def _record(figure: Figure, prefix: str, arrivals: list[Arrival],
            missed: dict[str, dict[str, int]], digits: int) -> None:
    """One run's rows: per class, the jobs with a deadline, each order's misses, and
    feasible_first against the two others (the target: never more misses); then totals."""
    def add(label: str, value: int, target: Target | None = None) -> None:
        figure.add(f"{prefix} · {label}", "jobs", value, target, digits)

    for name, _ in PRIORITY_MIX:
        add(f"{name}: jobs with a deadline", _deadlines(arrivals, name))
        for order, _make in ORDERS:
            add(f"{name}: misses, {order}", missed[order][name])
        for other in ("FIFO", "strict"):
            add(f"{name}: feasible_first − {other}",
                missed["feasible_first"][name] - missed[other][name], at_most(0, "0"))
    add("all: jobs with a deadline", _deadlines(arrivals))
    for order, _make in ORDERS:
        add(f"all: misses, {order}", sum(missed[order].values()))


def _deadlines(arrivals: list[Arrival], priority: str | None = None) -> int:
    return sum(1 for job in arrivals if job.deadline is not None
               and priority in (None, job.priority))


def _describe(figure: Figure, plan: Plan) -> None:
    mix = ", ".join(f"{_percent(share)} {name}" for name, share in PRIORITY_MIX)
    figure.settings += [
        "simulation with a fake clock; not a live system. Orders: FIFO (a deque in arrival "
        "order); strict and feasible_first (jobsched.scheduler.ordering.PendingHeap with "
        "QueuePolicy(overload=…), told each job's priority, deadline, arrival as queued_at "
        "and its task's usual run time as expected_seconds)",
        f"{SLOTS} slots; Poisson arrivals for {plan.sim_seconds:g} simulated s, then the "
        "backlog drains",
        f"priorities: {mix}; {_percent(DEADLINE_SHARE)} of the jobs have a deadline",
    ]
    figure.settings += [_describe_workload(shape) for shape in WORKLOADS]
    figure.settings.append("each run: another random seed (1, 2, …); every order serves the "
                           "same arrivals. Target: in every class, feasible_first misses no "
                           "more than FIFO and no more than strict (differences ≤ 0)")


def _describe_workload(shape: Workload) -> str:
    if len(shape.tasks) == 1:
        tasks = f"every job takes {shape.tasks[0].seconds:g} s"
    else:
        tasks = "tasks " + ", ".join(f"{t.name} {t.seconds:g} s ({_percent(t.share)})"
                                     for t in shape.tasks)
    if shape.spread:
        tasks += (f", a job takes its task's time × uniform({1 - shape.spread:g}, "
                  f"{1 + shape.spread:g})")
    slack = " or ".join(f"× uniform({s.low:g}, {s.high:g})"
                        + (f" ({_percent(s.share)} of them)" if len(shape.slack) > 1 else "")
                        for s in shape.slack)
    return (f"`{shape.name}`: {tasks}; arrivals at {shape.overload:g}× capacity; deadline = "
            f"arrival + the task's time {slack}")


def _percent(share: float) -> str:
    return f"{share * 100:g} %"
