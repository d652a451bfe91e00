"""GET /metrics: Prometheus text that tells the truth about the database, on both backends."""
from __future__ import annotations

import urllib.error
import urllib.request
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import create_engine

from jobsched.metrics.database import QueueCollector
from jobsched.metrics.server import serve_metrics
from jobsched.runner import build_service
from tests.conftest import make_user
from tests.helpers import RecordingSink, wait_until
from tests.ops.seed import add_execution, add_job, add_node, ago, finished_job, parse, value

LIMIT = 5


@pytest.fixture
def app_overrides() -> dict:
    return {"JOBSCHED_MAX_CONCURRENT_JOBS": LIMIT}


def seed_mix(app) -> None:
    """3 pending (2 eligible), 2 running, 3 completed, 1 failed, 1 cancelled, and their
    executions (plus a lost and a timed-out attempt)."""
    owner = make_user(app, "alice")
    add_job(app, owner, status="pending")
    add_job(app, owner, status="pending", run_at=ago(minutes=5))
    add_job(app, owner, status="pending", run_at=ago(minutes=-60))  # an hour from now
    for _ in range(2):
        job = add_job(app, owner, status="running", attempts=1, started_at=ago(seconds=3),
                      node="n1", lease_token=uuid.uuid4().hex, lease_expires_at=ago(seconds=-30))
        add_execution(app, job, "running", started_at=ago(seconds=3))
    completed = [finished_job(app, owner, "completed", timedelta(hours=1)) for _ in range(3)]
    failed = finished_job(app, owner, "failed", timedelta(hours=1))
    finished_job(app, owner, "cancelled", timedelta(hours=1))
    add_execution(app, completed[0], "lost", started_at=ago(hours=2), finished_at=ago(hours=2))
    add_execution(app, failed, "timed_out", started_at=ago(hours=2), finished_at=ago(hours=2))


def scrape(client, **headers: str):
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200
    return response


def test_metrics_parse_and_count_the_seeded_jobs(app, client):
    seed_mix(app)
    samples = parse(scrape(client).get_data(as_text=True))
    jobs = {s: value(samples, "jobsched_jobs", status=s)
            for s in ("pending", "running", "completed", "failed", "cancelled")}
    assert jobs == {"pending": 3, "running": 2, "completed": 3, "failed": 1, "cancelled": 1}
    assert value(samples, "jobsched_queue_depth") == 2  # the future run_at is not eligible
    assert value(samples, "jobsched_running_jobs") == 2
    assert value(samples, "jobsched_max_concurrent_jobs") == LIMIT
    assert value(samples, "jobsched_database_up") == 1
    records = {s: value(samples, "jobsched_execution_records", status=s)
               for s in ("running", "completed", "failed", "timed_out", "cancelled", "lost")}
    assert records == {"running": 2, "completed": 3, "failed": 1, "timed_out": 1,
                       "cancelled": 1, "lost": 1}


def test_an_empty_database_reports_zeros_not_missing_series(app, client):
    samples = parse(scrape(client).get_data(as_text=True))
    assert value(samples, "jobsched_jobs", status="failed") == 0
    assert value(samples, "jobsched_queue_depth") == 0
    assert value(samples, "jobsched_scheduler_nodes_alive") == 0


def test_nodes_alive_counts_live_nodes_with_an_unexpired_lease(app, client):
    add_node(app, "a", "running", timedelta(seconds=30))
    add_node(app, "b", "running", timedelta(seconds=60))
    add_node(app, "c", "running", timedelta(seconds=-5))  # crashed: its lease ran out
    add_node(app, "d", "stopped", timedelta(seconds=30))  # stopped cleanly
    samples = parse(scrape(client).get_data(as_text=True))
    assert value(samples, "jobsched_scheduler_nodes_alive") == 2


def test_metrics_need_no_login_and_expose_no_names(app, client):
    owner = make_user(app, "carol.private")
    add_job(app, owner, name="Quarterly payroll export", status="pending")
    body = scrape(client).get_data(as_text=True)
    assert "carol.private" not in body and "payroll" not in body
    assert "jobsched_jobs{" in body
    assert scrape(client).headers["Cache-Control"] == "no-store"


def test_an_openmetrics_scraper_gets_openmetrics(app, client):
    response = scrape(client, Accept="application/openmetrics-text; version=1.0.0")
    assert response.content_type.startswith("application/openmetrics-text")
    assert response.get_data(as_text=True).rstrip().endswith("# EOF")


def test_a_database_that_does_not_answer_is_reported_not_raised(tmp_path, caplog):
    engine = create_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}")
    try:
        families = {f.name: f for f in QueueCollector(engine, 3).collect()}
    finally:
        engine.dispose()
    assert [s.value for s in families["jobsched_database_up"].samples] == [0]
    assert "jobsched_jobs" not in families
    assert "the database did not answer" in caplog.text


def test_the_web_shows_its_own_scheduler_series_labelled_by_node(app, client):
    owner = make_user(app, "dave")
    job = add_job(app, owner, status="pending", task="echo", args={"message": "hi"})
    name = f"ops-{uuid.uuid4().hex[:8]}"
    service = build_service(app, RecordingSink(), name=name)
    service.start()
    try:
        wait_until(lambda: _status(app, job) == "completed", timeout=10)
    finally:
        service.stop()
    samples = parse(scrape(client).get_data(as_text=True))
    assert value(samples, "jobsched_executions_ended_total", node=name,
                 outcome="completed") == 1
    assert value(samples, "jobsched_job_duration_seconds_count", node=name, task="echo",
                 outcome="completed") == 1
    assert value(samples, "jobsched_queue_wait_seconds_count", node=name) == 1
    assert value(samples, "jobsched_claim_duration_seconds_count", node=name) >= 1


def _status(app, job_id: int) -> str:
    from jobsched.extensions import db
    from jobsched.models import Job

    with app.app_context():
        return db.session.get(Job, job_id).status


@pytest.mark.parametrize("app_overrides", [{"JOBSCHED_METRICS_TOKEN": "scrape-t0ken"}])
@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "scrape-t0ken",
                                           "Basic c2NyYXBlLXQwa2Vu", "Bearer scrape-t0ke"])
def test_with_a_metrics_token_a_scrape_without_it_is_refused(client, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "JOBSCHED_METRICS_TOKEN" in response.get_json()["message"]
    assert "jobsched_" not in response.get_data(as_text=True)


@pytest.mark.parametrize("app_overrides", [{"JOBSCHED_METRICS_TOKEN": "scrape-t0ken"}])
def test_with_a_metrics_token_a_scrape_with_it_gets_the_metrics(client):
    response = scrape(client, Authorization="Bearer scrape-t0ken")
    assert value(parse(response.get_data(as_text=True)), "jobsched_database_up") == 1


def scrape_port(port: int, **headers: str) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_a_schedulers_metrics_port_asks_for_the_token_too():
    server = serve_metrics(0, token="scrape-t0ken")
    try:
        assert scrape_port(server.port)[0] == 401
        assert scrape_port(server.port, Authorization="Bearer nope")[0] == 401
        status, body = scrape_port(server.port, Authorization="Bearer scrape-t0ken")
    finally:
        server.close()
    assert status == 200 and "jobsched_executions_ended_total" in body


def test_without_a_token_a_schedulers_metrics_port_stays_open():
    server = serve_metrics(0)
    try:
        assert scrape_port(server.port)[0] == 200
    finally:
        server.close()
