"""Figure 3: latencies on an idle system (production processes, one job at a time).

- submit → started: the client's clock before `POST /jobs/api/jobs/` to the job's
  `started_at` (stamped by PostgreSQL in the claim statement; same host, same clock).
- slot freed → next started: one scheduler with a limit of 1 and a queue of echo jobs;
  each gap is an execution's `started_at` minus the previous execution's `finished_at`.
- commit → `job_updates`: a python-socketio client (token auth, websocket) records when
  each event arrives; each change (created, started, completed) is matched with the first
  event showing it, and compared with the row's own timestamp of that change.
"""
from __future__ import annotations

import time
from datetime import datetime

from psycopg2.extensions import connection as Connection

from . import seed
from .events import SocketWatcher
from .harness import Process, Sandbox, connect, wait_until
from .plan import Plan
from .results import Figure, at_most, percentile
from .web_client import Client

JOB = {"name": "latency", "task": "echo", "args": {"message": 1}}
PAUSE_BETWEEN_JOBS = 0.02  # the system is idle again before the next submit
POLL_SECONDS = 0.002
SETTLE_SECONDS = 1.5  # after the last change, time for its event to arrive
STARTED = frozenset({"running", "completed", "failed"})
COMPLETED = frozenset({"completed"})
ANY = frozenset({"pending", "running", "completed", "failed", "cancelled"})


def run(sandbox: Sandbox, plan: Plan) -> Figure:
    """All three latencies, `plan.runs` times each."""
    figure = Figure("latency", "3. Latency on an idle system")
    url = sandbox.database("latency")
    owner = seed.create_owner(url)
    web, base = sandbox.web(url)
    scheduler = _start_scheduler(sandbox, url, "lat-idle", limit=3)
    for _ in range(plan.runs):
        _submit_to_started(figure, plan, url, base, owner)
    for _ in range(plan.runs):
        _event_latency(figure, plan, url, base, owner)
    sandbox.stop(scheduler)
    for index in range(plan.runs):
        _slot_to_start(figure, sandbox, plan, url, owner, index)
    sandbox.stop(web)
    _describe(figure, plan)
    sandbox.drop_database(url)
    return figure


def _describe(figure: Figure, plan: Plan) -> None:
    figure.settings += [
        "web: `gunicorn -k eventlet -w 1 wsgi:app`; one `flask run-scheduler` "
        "(limit 3 for submit → started and events, limit 1 for slot → next); REDIS_URL set",
        f"submit → started: {plan.latency_jobs} echo jobs submitted one at a time, each after "
        "the previous completed",
        f"slot → next: {plan.gap_jobs + 1} echo jobs queued ahead, {plan.gap_jobs} gaps",
        f"events: {plan.event_jobs} echo jobs submitted {plan.event_spacing:g} s apart, 3 "
        "changes each (created, started, completed)",
    ]
    figure.notes += [
        "A change's time is the row's own stamp (created_at, the claim's started_at, the "
        "finish's finished_at), taken just before its commit: latencies include the commit.",
    ]


def _start_scheduler(sandbox: Sandbox, url: str, node: str, limit: int) -> Process:
    process = sandbox.scheduler(url, node, JOBSCHED_MAX_CONCURRENT_JOBS=limit)
    wait_until(sandbox.budget, lambda: _node_running(process, url, node), 30,
               f"{node} registered")
    return process


def _node_running(process: Process, url: str, node: str) -> bool:
    process.check_alive()
    return seed.scalar(url, "SELECT status FROM scheduler_nodes WHERE name = %s",
                       (node,)) == "running"


# -- submit → started -------------------------------------------------------------------

def _submit_to_started(figure: Figure, plan: Plan, url: str, base: str,
                       owner: seed.Owner) -> None:
    client = Client(base, owner.token)
    conn = connect(url)
    latencies: list[float] = []
    try:
        for _ in range(plan.latency_jobs):
            latencies.append(_one_submit(client, conn))
            time.sleep(PAUSE_BETWEEN_JOBS)
    finally:
        client.close()
        conn.close()
    ms = [1000 * value for value in latencies]
    figure.add("submit (API) → started: p50", "ms", percentile(ms, 50),
               at_most(10, "10"))
    figure.add("submit (API) → started: p99", "ms", percentile(ms, 99),
               at_most(20, "20"))


def _one_submit(client: Client, conn: Connection) -> float:
    """Seconds from just before the POST to the job's started_at; waits for completion."""
    sent = time.time()
    job = client.json("POST", "/jobs/api/jobs/", JOB, expect=201)
    started, status = _poll(conn, job["id"])
    return started.timestamp() - sent


def _poll(conn: Connection, job_id: int, timeout: float = 30.0) -> tuple[datetime, str]:
    """Poll the job's row until it completed; its started_at and final status."""
    deadline = time.monotonic() + timeout
    with conn.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT started_at, status FROM jobs WHERE id = %s", (job_id,))
            started, status = cursor.fetchone()
            if status in ("completed", "failed"):
                return started, status
            time.sleep(POLL_SECONDS)
    raise TimeoutError(f"job {job_id} did not complete within {timeout:.0f} s")


# -- commit → job_updates ---------------------------------------------------------------

def _event_latency(figure: Figure, plan: Plan, url: str, base: str,
                   owner: seed.Owner) -> None:
    watcher = SocketWatcher(base, owner.token)
    client = Client(base, owner.token)
    try:
        ids = []
        for _ in range(plan.event_jobs):
            ids.append(client.json("POST", "/jobs/api/jobs/", JOB, expect=201)["id"])
            time.sleep(plan.event_spacing)
        conn = connect(url)
        for job_id in ids:
            _poll(conn, job_id)
        conn.close()
        time.sleep(SETTLE_SECONDS)
    finally:
        client.close()
        watcher.close()
    _record_events(figure, _event_delays(url, watcher, ids))


def _event_delays(url: str, watcher: SocketWatcher, ids: list[int]
                  ) -> dict[str, list[float]]:
    """Per kind of change, milliseconds from the change to the first event showing it."""
    rows = seed.query(url, """
        SELECT j.id, j.created_at, e.started_at, e.finished_at
        FROM jobs j JOIN executions e ON e.job_id = j.id WHERE j.id = ANY(%s)""", (ids,))
    delays: dict[str, list[float]] = {"created": [], "started": [], "completed": []}
    for job_id, created, started, finished in rows:
        for kind, at, statuses in (("created", created, ANY), ("started", started, STARTED),
                                   ("completed", finished, COMPLETED)):
            seen = watcher.first_seen(job_id, statuses, after=at.timestamp() - 1)
            if seen is None:
                raise RuntimeError(f"no job_updates event showed job {job_id} {kind}")
            delays[kind].append(1000 * (seen - at.timestamp()))
    return delays


def _record_events(figure: Figure, delays: dict[str, list[float]]) -> None:
    every = [value for values in delays.values() for value in values]
    for kind, values in delays.items():
        figure.add(f"commit → job_updates ({kind}): p50", "ms", percentile(values, 50))
    figure.add("commit → job_updates (all changes): p99", "ms", percentile(every, 99),
               at_most(250, "250"))
    figure.add("commit → job_updates (all changes): max", "ms", max(every))


# -- slot freed → next job started ------------------------------------------------------

def _slot_to_start(figure: Figure, sandbox: Sandbox, plan: Plan, url: str,
                   owner: seed.Owner, index: int) -> None:
    seed.execute(url, "DELETE FROM executions")
    seed.execute(url, "DELETE FROM jobs")
    seed.add_pending(url, owner, plan.gap_jobs + 1)
    seed.analyze(url)
    node = f"lat-slot-{index}"
    scheduler = _start_scheduler(sandbox, url, node, limit=1)
    reader = seed.Reader(url)
    try:
        wait_until(sandbox.budget, lambda: reader.scalar(
            "SELECT count(*) FROM jobs WHERE status <> 'completed'") == 0, 60,
            "queued jobs completed", interval=0.1)
    finally:
        reader.close()
    sandbox.stop(scheduler)
    rows = seed.query(url, "SELECT started_at, finished_at FROM executions ORDER BY started_at")
    gaps = [1000 * (nxt[0] - prev[1]).total_seconds()
            for prev, nxt in zip(rows, rows[1:], strict=False)]
    figure.add("slot freed → next job started: p50", "ms", percentile(gaps, 50))
    figure.add("slot freed → next job started: p99", "ms", percentile(gaps, 99))
