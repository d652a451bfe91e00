"""Figure 4: scale. Claim latency, scheduler memory and start-up with 10³…10⁶ pending jobs;
the dashboard and `stats` with 10⁶ jobs in the table.

The pending queue grows in place (each size adds to the last) with `sleep 3600` jobs. Per
size and run, a real `flask run-scheduler` (limit 1) starts: its start-up is the time from
spawning it to its first job's `started_at` (process start, registration, heap load, the
first claim), and its memory is read from /proc once that job runs; SIGTERM with no grace
hands the job back, so the queue keeps its size. Claim and finish latency are then timed
in this process around jobsched's own `SqlJobStore.claim` / `.finish`, with the same
arguments a scheduler passes (5 candidates, 1 slot); the jobs taken are put back after.
"""
from __future__ import annotations

import time

from . import seed
from .harness import Sandbox, wait_until
from .plan import Plan
from .results import Figure, at_most, below, percentile
from .web_client import Client

SLEEP_ARGS = '{"seconds": 3600}'
CANDIDATES = 5  # one free slot + the scheduler's EXTRA_CANDIDATES
CLAIM_NODE = "bench-claim"
SETTLE_SECONDS = 0.5  # after the first claim, before reading memory
MiB = 2**20
MILLION = 1_000_000


def label(size: int) -> str:
    """10³-style names for the sizes."""
    exponent = len(str(size)) - 1
    return f"10{'⁰¹²³⁴⁵⁶⁷⁸⁹'[exponent]}" if size == 10**exponent else f"{size:,}"


def run(sandbox: Sandbox, plan: Plan) -> Figure:
    """Queue sizes first, then the pages over a lived-in table."""
    figure = Figure("scale", "4. Scale")
    _queue_sizes(figure, sandbox, plan)
    _pages(figure, sandbox, plan)
    return figure


# -- the pending queue ----------------------------------------------------------------------

def _queue_sizes(figure: Figure, sandbox: Sandbox, plan: Plan) -> None:
    url = sandbox.database("scale")
    owner = seed.create_owner(url)
    seed.add_pending(url, owner, 1, task="sleep", args=SLEEP_ARGS)
    baseline = [_start_scheduler(sandbox, url, f"base-{i}")[1] for i in range(plan.runs)]
    seeded = 1
    claims: dict[int, list[float]] = {}
    for size in plan.scale_sizes:
        seed.add_pending(url, owner, size - seeded, first=seeded + 1, task="sleep",
                         args=SLEEP_ARGS)
        seeded = size
        seed.analyze(url, vacuum=True)
        for index in range(plan.runs):
            _scheduler_run(figure, sandbox, plan, url, size, index, baseline)
        claims[size] = [_claim_run(figure, url, size, plan) for _ in range(plan.runs)]
    _claim_ratio(figure, plan, claims)
    figure.settings += [
        "queue: pending `sleep 3600` jobs, priorities in rotation, a quarter with deadlines",
        "after each size is seeded: VACUUM ANALYZE jobs (what autovacuum does over time)",
        "scheduler: `flask run-scheduler`, JOBSCHED_MAX_CONCURRENT_JOBS=1, "
        "JOBSCHED_SHUTDOWN_GRACE_SECONDS=0",
    ]
    figure.notes.append(
        "memory per pending job = (RSS at this size − RSS with 1 pending job) / size; "
        f"baseline RSS {sorted(baseline)[len(baseline) // 2] / MiB:.1f} MiB")
    sandbox.drop_database(url)


def _start_scheduler(sandbox: Sandbox, url: str, node: str) -> tuple[float, int, int]:
    """Start one scheduler; (seconds to its first job started, RSS, peak RSS); stop it."""
    reader = seed.Reader(url)
    process = sandbox.scheduler(url, node, JOBSCHED_MAX_CONCURRENT_JOBS=1,
                                JOBSCHED_SHUTDOWN_GRACE_SECONDS=0)
    try:
        def first_start() -> object:
            process.check_alive()
            return reader.scalar("SELECT started_at FROM jobs WHERE status = 'running' "
                                 "AND node = %s", (node,))

        started = wait_until(sandbox.budget, first_start, 120, f"{node}'s first claim",
                             interval=0.02)
        time.sleep(SETTLE_SECONDS)
        rss, peak = process.memory()
    finally:
        sandbox.stop(process)
        reader.close()
    return started.timestamp() - process.started, rss, peak


def _scheduler_run(figure: Figure, sandbox: Sandbox, plan: Plan, url: str, size: int,
                   index: int, baseline: list[int]) -> None:
    name = label(size)
    seconds, rss, peak = _start_scheduler(sandbox, url, f"scale-{size}-{index}")
    start_target = below(15, "15") if size == MILLION else None
    figure.add(f"{name} pending: scheduler start → first job started", "s", seconds,
               start_target, digits=2)
    figure.add(f"{name} pending: scheduler RSS", "MiB", rss / MiB)
    figure.add(f"{name} pending: scheduler peak RSS", "MiB", peak / MiB)
    base = sorted(baseline)[len(baseline) // 2]
    figure.add(f"{name} pending: scheduler memory per pending job", "bytes",
               (rss - base) / size, at_most(300, "300") if size == MILLION else None,
               digits=0)


def _claim_run(figure: Figure, url: str, size: int, plan: Plan) -> float:
    """Time `samples` claims and finishes; returns this run's claim p50 (ms)."""
    from sqlalchemy import create_engine

    from config import normalize_database_url
    from jobsched.database import engine_options
    from jobsched.storage.store import SqlJobStore

    engine = create_engine(normalize_database_url(url), **engine_options(url))
    store = SqlJobStore(engine)
    ids = [row[0] for row in seed.query(url, """
        SELECT id FROM jobs WHERE status = 'pending'
        ORDER BY priority_rank, deadline, id LIMIT %s""", (plan.claim_samples + CANDIDATES,))]
    try:
        claim_ms, finish_ms, taken = _time_claims(store, ids, plan.claim_samples)
    finally:
        engine.dispose()
        _put_back(url)
    name = label(size)
    figure.add(f"{name} pending: claim p50", "ms", percentile(claim_ms, 50), digits=2)
    figure.add(f"{name} pending: claim p99", "ms", percentile(claim_ms, 99), digits=2)
    figure.add(f"{name} pending: finish p50", "ms", percentile(finish_ms, 50), digits=2)
    if taken != plan.claim_samples:
        raise RuntimeError(f"claimed {taken} of {plan.claim_samples} jobs")
    return percentile(claim_ms, 50)


def _time_claims(store: object, ids: list[int], samples: int
                 ) -> tuple[list[float], list[float], int]:
    from jobsched.scheduler.states import ExecutionStatus
    from jobsched.scheduler.store import Outcome

    done = Outcome(ExecutionStatus.COMPLETED, result={"slept": 0})
    claim_ms, finish_ms, taken = [], [], 0
    for index in range(samples):
        started = time.perf_counter()
        claims = store.claim(ids[index:index + CANDIDATES], CLAIM_NODE, 1, 1_000_000, 30)
        claim_ms.append(1000 * (time.perf_counter() - started))
        for claim in claims:
            started = time.perf_counter()
            store.finish(claim, done)
            finish_ms.append(1000 * (time.perf_counter() - started))
            taken += 1
    return claim_ms, finish_ms, taken


def _put_back(url: str) -> None:
    """Make the jobs the claim timing took pending again, without their executions."""
    seed.execute(url, "DELETE FROM executions WHERE node = %s", (CLAIM_NODE,))
    seed.execute(url, """
        UPDATE jobs SET status = 'pending', attempts = 0, node = NULL, lease_token = NULL,
               lease_expires_at = NULL, started_at = NULL, finished_at = NULL,
               result = NULL, progress = NULL
        WHERE status = 'completed'""")


def _claim_ratio(figure: Figure, plan: Plan, claims: dict[int, list[float]]) -> None:
    smallest, largest = min(plan.scale_sizes), max(plan.scale_sizes)
    # The target compares 10⁶ with 10³; other sizes (the smoke run's) are shown untargeted.
    target = at_most(2, "2") if (smallest, largest) == (1_000, MILLION) else None
    for low, high in zip(claims[smallest], claims[largest], strict=True):
        figure.add(f"claim p50 at {label(largest)} ÷ at {label(smallest)}", "×", high / low,
                   target, digits=2)


# -- the pages over a lived-in table --------------------------------------------------------

def _pages(figure: Figure, sandbox: Sandbox, plan: Plan) -> None:
    url = sandbox.database("pages")
    owner = seed.create_owner(url)
    seed.add_history(url, owner, plan.history_jobs)
    seed.analyze(url, vacuum=True)
    name = label(plan.history_jobs)
    large = plan.history_jobs >= MILLION
    for index in range(plan.runs):
        first, page_p50, stats_p50 = _page_run(sandbox, plan, url, owner, index)
        figure.add(f"{name} jobs: `/` first response after start", "ms", first,
                   at_most(300, "300") if large else None)
        figure.add(f"{name} jobs: `/` p50", "ms", page_p50)
        figure.add(f"{name} jobs: GET /jobs/api/jobs/stats/ p50", "ms", stats_p50,
                   below(50, "50") if large else None)
    figure.settings.append(
        f"pages: {plan.history_jobs:,} jobs created 2 s apart "
        "(90 % completed, 4 % failed, 3 % cancelled, 3 % pending), no executions; "
        "admin user (sees every job); the web server is restarted for each run")
    sandbox.drop_database(url)


def _page_run(sandbox: Sandbox, plan: Plan, url: str, owner: seed.Owner, index: int
              ) -> tuple[float, float, float]:
    """A fresh web server: the first `/` after login, then warm `/` and stats p50 (ms)."""
    web, base = sandbox.web(url, name=f"pages-{index}")
    browser, script = Client(base), Client(base, owner.token)
    try:
        browser.login(owner.username, owner.password)
        first = 1000 * browser.timed("GET", "/")
        pages = [1000 * browser.timed("GET", "/") for _ in range(plan.page_samples)]
        stats = [1000 * script.timed("GET", "/jobs/api/jobs/stats/")
                 for _ in range(plan.page_samples)]
    finally:
        browser.close()
        script.close()
        sandbox.stop(web)
    return first, percentile(pages, 50), percentile(stats, 50)
