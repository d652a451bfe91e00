"""The production layout on one machine, started as docs/deploy.md says: two web nodes
(`gunicorn -k eventlet -w 1 wsgi:app`) on two ports, two `flask run-scheduler` processes, one
PostgreSQL and one Redis. A socket on web node A hears the jobs submitted through web node B
and run by either scheduler, and `/metrics` on both web nodes tells the truth about the queue.
"""
from __future__ import annotations

import signal
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from jobsched.scheduler.clock import utcnow
from tests.helpers import wait_until
from tests.ops.seed import parse, value
from tests.ops.test_scheduler_process import scrape
from tests.process.jobs_db import closed_intervals, max_overlap, node_status, runs
from tests.process.procs import FLASK, ROOT, Process, ProcessGroup, child_env, spare_port
from tests.process.procs import wait_ready as wait_schedulers_ready
from tests.process.web_client import LiveClient
from tests.realtime.server import Listener
from tests.services import postgres_url, redis_url, scratch_database

LIMIT = 3  # JOBSCHED_MAX_CONCURRENT_JOBS, the system-wide limit
PER_SCHEDULER = 2  # --concurrency: three long jobs at once need both schedulers
PASSWORD = "multi-node-pass"
DEPLOY_DOC = ROOT / "docs" / "deploy.md"
# The commands docs/deploy.md gives for one machine. The test runs the same ones, except
# that it picks free ports, gives its user a name of its own and passes the password as an
# option instead of typing it at the prompt.
DOC_COMMANDS = (
    ".venv/bin/flask --app jobsched db upgrade",
    ".venv/bin/flask --app jobsched create-user admin --admin",
    ".venv/bin/gunicorn -k eventlet -w 1 wsgi:app --bind 127.0.0.1:8001",
    ".venv/bin/gunicorn -k eventlet -w 1 wsgi:app --bind 127.0.0.1:8002",
    f".venv/bin/flask --app jobsched run-scheduler --node s1 --concurrency {PER_SCHEDULER}",
    f".venv/bin/flask --app jobsched run-scheduler --node s2 --concurrency {PER_SCHEDULER}",
    "JOBSCHED_EMBEDDED_SCHEDULER=0",
    f"JOBSCHED_MAX_CONCURRENT_JOBS={LIMIT}",
    "JOBSCHED_SECURE_COOKIES=0",
)


@dataclass
class Layout:
    """The running layout: two web nodes, two schedulers, and the user made for the test."""

    node_a: LiveClient
    node_b: LiveClient
    schedulers: dict[str, Process]
    username: str
    engine: Engine


def test_deploy_doc_gives_the_one_machine_commands_this_test_runs():
    """A reader of docs/deploy.md types what this module starts, not something older."""
    doc = DEPLOY_DOC.read_text()
    missing = [command for command in DOC_COMMANDS if command not in doc]
    assert not missing, f"docs/deploy.md no longer shows: {missing}"


@pytest.fixture
def database() -> Iterator[str]:
    """An empty PostgreSQL database: the layout migrates it itself, as the doc says."""
    with scratch_database(postgres_url(), prefix="jobsched_mn") as url:
        yield url


@pytest.fixture
def engine(database) -> Iterator[Engine]:
    engine = create_engine(database)
    yield engine
    engine.dispose()


@pytest.fixture
def group(tmp_path, database) -> Iterator[ProcessGroup]:
    """The layout's processes; all killed (web nodes with their workers) at teardown, before
    their database is dropped (hence the dependency)."""
    processes = ProcessGroup(tmp_path)
    yield processes
    processes.kill_all()


@contextmanager
def showing_output(group: ProcessGroup) -> Iterator[None]:
    """On failure, attach what every process of the layout wrote to the error."""
    try:
        yield
    except BaseException as error:
        error.add_note(group.report()[-30_000:])
        raise


def run_command(env: dict[str, str], *args: str) -> str:
    """One `flask --app jobsched ...` command, as an operator types it; its output."""
    done = subprocess.run([str(FLASK), "--app", "jobsched", *args], cwd=ROOT, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"flask {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def start_web_node(group: ProcessGroup, database: str, name: str,
                   settings: dict[str, object]) -> tuple[Process, LiveClient]:
    """A gunicorn web node on a spare port, and a client for it."""
    port = spare_port()
    return group.gunicorn(database, name, port, **settings), LiveClient(port)


def wait_web_ready(node: Process, client: LiveClient) -> None:
    """Wait until the node's /healthz answers 200; fail at once if it exits."""
    wait_until(lambda: client.answers() or node.returncode is not None, timeout=30,
               interval=0.1, message=f"{node.name} did not answer /healthz")
    assert node.returncode is None, f"{node.name} exited:\n{node.output()}"


@pytest.fixture
def layout(group, database, engine) -> Iterator[Layout]:
    """docs/deploy.md's steps for one machine: shared settings, migrate, the first account,
    two web nodes and two schedulers."""
    settings: dict[str, object] = {
        "REDIS_URL": redis_url(), "JOBSCHED_EMBEDDED_SCHEDULER": 0,
        "JOBSCHED_MAX_CONCURRENT_JOBS": LIMIT,
        "JOBSCHED_SECURE_COOKIES": 0,  # plain HTTP on 127.0.0.1, as in the doc
    }
    env = child_env(database, **settings)  # one SECRET_KEY for every process
    username = f"ops_{uuid.uuid4().hex[:8]}"
    with showing_output(group):
        run_command(env, "db", "upgrade")
        assert "Created admin" in run_command(env, "create-user", username, "--admin",
                                              "--password", PASSWORD)
        webs = [start_web_node(group, database, name, settings) for name in ("web-a", "web-b")]
        schedulers = {
            name: group.scheduler(database, name, "--concurrency", str(PER_SCHEDULER),
                                  **settings)
            for name in ("s1", "s2")
        }
        for web in webs:
            wait_web_ready(*web)
        wait_schedulers_ready(engine, *schedulers.values())
        yield Layout(webs[0][1], webs[1][1], schedulers, username, engine)


# -- what the test submits and what it expects ---------------------------------------------


def submit(node: LiveClient, prefix: str, label: str, **fields: Any) -> dict[str, Any]:
    """A job through the API of `node`, named so that this test's events can be told apart
    from those of any other deployment on the same Redis (its channel is server-wide)."""
    return node.submit(name=f"{prefix} {label}", **fields)


def api(node: LiveClient, method: str, path: str) -> Any:
    """`method` /jobs/api`path` on `node` with the test user's token; 200 or the test fails."""
    status, body, _ = node.call(method, f"/jobs/api{path}")
    assert status == 200, f"{method} {path} on {node.base}: {status} {body}"
    return body


def heard(listener: Listener, prefix: str) -> dict[int, dict[str, Any]]:
    """The latest state the listener heard of each of this test's jobs."""
    latest: dict[int, dict[str, Any]] = {}
    for _, data in listener.named("job_updates"):
        for job in data["jobs"]:
            if job["name"].startswith(f"{prefix} "):
                latest[job["id"]] = job
    return latest


def heard_all(listener: Listener, prefix: str, expected: dict[int, str]) -> bool:
    """Whether the listener's latest state of every expected job has the expected status."""
    latest = heard(listener, prefix)
    return all(latest.get(job_id, {}).get("status") == status
               for job_id, status in expected.items())


def database_counts(engine: Engine) -> dict[str, int]:
    """Jobs by status as the database has them (a plain GROUP BY, all five statuses)."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT status, count(*) FROM jobs GROUP BY status")).all()
    counts = dict.fromkeys(("pending", "running", "completed", "failed", "cancelled"), 0)
    counts.update({status: count for status, count in rows})
    return counts


def metrics_view(node: LiveClient) -> dict[str, Any]:
    """What one web node's /metrics says about the whole system."""
    samples = parse(scrape(int(node.base.rsplit(":", 1)[1])))
    by_status = {status: value(samples, "jobsched_jobs", status=status)
                 for status in ("pending", "running", "completed", "failed", "cancelled")}
    return {
        "jobs": by_status,
        "queue_depth": value(samples, "jobsched_queue_depth"),
        "running": value(samples, "jobsched_running_jobs"),
        "limit": value(samples, "jobsched_max_concurrent_jobs"),
        "nodes_alive": value(samples, "jobsched_scheduler_nodes_alive"),
        "completed_executions": value(samples, "jobsched_execution_records",
                                      status="completed"),
        "database_up": value(samples, "jobsched_database_up"),
    }


def held_still_view(layout: Layout) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """The database's counts and both nodes' metrics, read while the queue does not move
    (the counts before and after the two scrapes must agree, or the comparison means
    nothing)."""
    before = database_counts(layout.engine)
    views = [metrics_view(layout.node_a), metrics_view(layout.node_b)]
    assert database_counts(layout.engine) == before, "the queue moved during the scrapes"
    return before, views


def assert_metrics_tell(views: list[dict[str, Any]], counts: dict[str, int], depth: int,
                        nodes_alive: int) -> None:
    """Both web nodes report the database's counts, this queue depth and these nodes."""
    for view in views:
        assert view["database_up"] == 1
        assert view["jobs"] == counts
        assert view["running"] == counts["running"] <= view["limit"] == LIMIT
        assert view["queue_depth"] == depth
        assert view["nodes_alive"] == nodes_alive


# -- the test -------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.redis
def test_two_web_nodes_and_two_schedulers_work_as_one_system(layout, group):
    with showing_output(group):
        token = login(layout)
        listeners = [Listener().connect(layout.node_a.base, transport, auth={"token": token})
                     for transport in ("websocket", "polling")]
        prefix = f"mn-{uuid.uuid4().hex[:8]}"
        blockers, followers, later = fill_the_queue(layout, prefix)
        counts, views = held_still_view(layout)
        # 3 long jobs hold every slot; 8 wait for one; 1 waits for its run_at (not queued).
        assert counts == {"pending": 9, "running": 3, "completed": 0, "failed": 0,
                          "cancelled": 0}
        assert_metrics_tell(views, counts, depth=8, nodes_alive=2)

        running_seen = watch_running_until_done(layout, blockers + followers)
        assert max(running_seen) <= LIMIT, f"/metrics showed {max(running_seen)} running"
        api(layout.node_b, "POST", f"/jobs/{later['id']}/cancel/")
        expected = {job["id"]: "completed" for job in blockers + followers}
        expected[later["id"]] = "cancelled"
        for listener in listeners:
            assert_heard_every_end(listener, prefix, expected, layout.username, followers)

        assert_executions(layout, blockers, followers)
        counts, views = held_still_view(layout)
        assert counts == {"pending": 0, "running": 0, "completed": 11, "failed": 0,
                          "cancelled": 1}
        assert_metrics_tell(views, counts, depth=0, nodes_alive=2)
        assert all(view["completed_executions"] == 11 for view in views)

        stop_scheduler(layout, "s2")
        counts, views = held_still_view(layout)
        assert_metrics_tell(views, counts, depth=0, nodes_alive=1)
        assert_one_scheduler_still_runs_jobs(layout, listeners[0], prefix)
        for listener in listeners:
            listener.close()


def login(layout: Layout) -> str:
    """A token from node B's POST /jobs/api/auth/token; node A gets the same one."""
    layout.node_b.login(layout.username, PASSWORD)
    layout.node_a.token = layout.node_b.token
    assert layout.node_b.token is not None
    return layout.node_b.token


def fill_the_queue(layout: Layout, prefix: str
                   ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """Through node B: 3 long jobs that take every slot (2 + 1: both schedulers), then 8
    short ones that must wait, and one due in an hour."""
    node = layout.node_b
    blockers = [submit(node, prefix, f"blocker {i}", task="sleep", args={"seconds": 4},
                       priority="high") for i in range(LIMIT)]
    wait_until(lambda: database_counts(layout.engine)["running"] == LIMIT, timeout=5,
               message="the long jobs did not all start")
    followers = [submit(node, prefix, f"sleep {i}", task="sleep", args={"seconds": 0.2})
                 for i in range(4)]
    followers += [submit(node, prefix, f"echo {i}", task="echo", args={"message": f"hi {i}"})
                  for i in range(4)]
    later = submit(node, prefix, "later", task="echo", args={"message": "later"},
                   run_at=(utcnow() + timedelta(hours=1)).isoformat())
    return blockers, followers, later


def watch_running_until_done(layout: Layout, jobs: list[dict[str, Any]]) -> list[float]:
    """Scrape both nodes in turn until every job has completed; the `running` values seen."""
    seen: list[float] = []

    def done() -> bool:
        for node in (layout.node_a, layout.node_b):
            seen.append(metrics_view(node)["running"])
        return database_counts(layout.engine)["completed"] == len(jobs)

    wait_until(done, timeout=30, interval=0.05, message="the jobs did not all complete")
    return seen


def assert_heard_every_end(listener: Listener, prefix: str, expected: dict[int, str],
                           username: str, followers: list[dict[str, Any]]) -> None:
    """The socket on node A heard each job end as expected; every job it heard is the test
    user's, and each short job finished with its task's result in one attempt."""
    wait_until(lambda: heard_all(listener, prefix, expected), timeout=10, interval=0.05,
               message="node A's socket did not hear every job end")
    latest = heard(listener, prefix)
    assert {job["owner"] for job in latest.values()} == {username}
    for job in followers:
        heard_job = latest[job["id"]]
        expected = job["args"].get("message", {"slept": job["args"].get("seconds")})
        assert (heard_job["result"], heard_job["attempts"]) == (expected, 1)


def assert_executions(layout: Layout, blockers: list[dict[str, Any]],
                      followers: list[dict[str, Any]]) -> None:
    """One completed execution per job, by s1 or s2; the long jobs needed both; never more
    than the limit ran at once across the two."""
    nodes = {}
    for job in blockers + followers:
        [execution] = api(layout.node_a, "GET", f"/jobs/{job['id']}/executions/")["items"]
        assert execution["status"] == "completed"
        nodes[job["id"]] = execution["node"]
    assert set(nodes.values()) <= {"s1", "s2"}
    assert {nodes[job["id"]] for job in blockers} == {"s1", "s2"}
    assert max_overlap(closed_intervals(runs(layout.engine))) <= LIMIT


def stop_scheduler(layout: Layout, name: str) -> None:
    """SIGTERM one scheduler: it exits 0 and its row says stopped."""
    process = layout.schedulers[name]
    process.send(signal.SIGTERM)
    assert process.wait(30) == 0, process.output()
    wait_until(lambda: node_status(layout.engine, name) == "stopped", timeout=5)


def assert_one_scheduler_still_runs_jobs(layout: Layout, listener: Listener,
                                         prefix: str) -> None:
    """With s2 gone, a job submitted through B is run by s1 and heard on A."""
    job = submit(layout.node_b, prefix, "after", task="echo", args={"message": "still here"})
    wait_until(lambda: heard(listener, prefix).get(job["id"], {}).get("status") == "completed",
               timeout=10, message="node A's socket did not hear the last job complete")
    executions = api(layout.node_a, "GET", f"/jobs/{job['id']}/executions/")["items"]
    assert [execution["node"] for execution in executions] == ["s1"]
