"""Figure 1: end-to-end throughput of no-op `echo` jobs through real scheduler processes.

Each run empties the table, inserts the jobs ahead, starts 1 or 2 `flask run-scheduler`
processes (REDIS_URL set, so every change is emitted through Redis as in production) and
waits until every job completed, or until the run's time cap (which keeps `make bench`
bounded on a slow machine; the report shows how many completed). The rate is counted from
the first completion to the last, from the executions' `finished_at`, so process start-up
is not in it.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import seed
from .events import RedisTap
from .harness import Process, Sandbox, wait_until
from .plan import Plan
from .results import Figure, at_least

TARGET_JOBS_PER_SECOND = 1200.0
SCHEDULER_COUNTS = (1, 2)


@dataclass(frozen=True, slots=True)
class Outcome:
    """One run: its rate, the schedulers' CPU per job and what Redis carried."""

    jobs_per_second: float
    cpu_ms_per_job: float
    completed: int
    messages: int


def run(sandbox: Sandbox, plan: Plan) -> Figure:
    """Measure jobs/s with 1 and 2 schedulers, `plan.runs` times each."""
    figure = Figure("throughput", "1. End-to-end throughput (no-op echo jobs)")
    url = sandbox.database("throughput")
    owner = seed.create_owner(url)
    for count in SCHEDULER_COUNTS:
        for index in range(plan.runs):
            outcome = one_run(sandbox, plan, url, owner, count, index)
            _record(figure, count, outcome)
    figure.settings += [
        f"{plan.throughput_jobs:,} pending `echo` jobs inserted before the schedulers start",
        f"JOBSCHED_MAX_CONCURRENT_JOBS={plan.throughput_limit}; each scheduler "
        "`--concurrency` defaults to the limit",
        "REDIS_URL set: each scheduler emits `job_updates`/`stats` through Redis",
    ]
    figure.notes.append("jobs/s = (completions − 1) / (last finished_at − first finished_at); "
                        f"a run stops after {plan.throughput_timeout:g} s even if jobs remain")
    sandbox.drop_database(url)
    return figure


def _record(figure: Figure, count: int, outcome: Outcome) -> None:
    name = f"{count} scheduler{'s' if count > 1 else ''}"
    target = at_least(TARGET_JOBS_PER_SECOND, "1,200") if count == 2 else None
    figure.add(f"{name}: throughput", "jobs/s", outcome.jobs_per_second, target, digits=0)
    figure.add(f"{name}: jobs completed (of those queued)", "jobs", outcome.completed,
               digits=0)
    figure.add(f"{name}: scheduler CPU per job", "ms", outcome.cpu_ms_per_job, digits=2)
    figure.add(f"{name}: Socket.IO messages through Redis", "messages", outcome.messages,
               digits=0)


def one_run(sandbox: Sandbox, plan: Plan, url: str, owner: seed.Owner, count: int,
            index: int) -> Outcome:
    """Seed, start `count` schedulers, wait for every completion, stop them, measure."""
    seed.reset_jobs(url)
    seed.add_pending(url, owner, plan.throughput_jobs)
    seed.analyze(url)
    tap = RedisTap(sandbox.redis_url)
    limit = plan.throughput_limit
    schedulers = [sandbox.scheduler(url, f"tp{count}-r{index}-{n}",
                                    JOBSCHED_MAX_CONCURRENT_JOBS=limit)
                  for n in range(count)]
    try:
        _wait_for_completions(sandbox, plan, url, schedulers)
        cpu = sum(process.cpu_seconds() for process in schedulers)
    finally:
        for process in schedulers:
            sandbox.stop(process)
        tap.close()
    return _measure(url, cpu, tap.count)


def _wait_for_completions(sandbox: Sandbox, plan: Plan, url: str,
                          schedulers: list[Process]) -> None:
    """Until every job completed or the run's cap passed (then the rate covers fewer)."""
    total = plan.throughput_jobs
    reader = seed.Reader(url)

    def done() -> bool:
        for process in schedulers:
            process.check_alive()
        return reader.scalar("SELECT count(*) FROM jobs WHERE status = 'completed'") >= total

    try:
        wait_until(sandbox.budget, done, plan.throughput_timeout, "all jobs completed",
                   interval=0.25)
    except TimeoutError:
        pass  # measured over the completions so far; the report shows how many
    finally:
        reader.close()


def _measure(url: str, cpu_seconds: float, messages: int) -> Outcome:
    first, last, completed, failed, jobs = seed.query(url, """
        SELECT min(finished_at), max(finished_at),
               count(*) FILTER (WHERE status = 'completed'),
               count(*) FILTER (WHERE status NOT IN ('completed', 'running', 'lost')),
               count(DISTINCT job_id) FILTER (WHERE status = 'completed')
        FROM executions""")[0]
    if failed or jobs != completed:
        raise RuntimeError(f"{completed} completed executions of {jobs} jobs, {failed} "
                           "failed: a job ran twice or failed")
    if completed < 2:
        raise RuntimeError(f"only {completed} job(s) completed: no rate to measure")
    rate = (completed - 1) / (last - first).total_seconds()
    return Outcome(rate, 1000 * cpu_seconds / completed, completed, messages)
