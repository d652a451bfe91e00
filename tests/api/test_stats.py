"""GET /jobs/api/jobs/stats/: correct on a seeded mix of states, scoped to the caller."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event

from jobsched.extensions import db
from jobsched.jobs.queries import job_stats
from jobsched.models import User
from jobsched.scheduler.clock import utcnow
from tests.api.conftest import make_running, set_job, user_id

EMPTY = {
    "total": 0, "by_status": {s: 0 for s in ("pending", "running", "completed", "failed",
                                             "cancelled")},
    "by_priority": {"high": 0, "medium": 0, "low": 0}, "running": 0, "running_all": 0,
    "queued": 0, "avg_wait_seconds": None, "avg_run_seconds": None, "deadline_missed": 0,
}


@pytest.fixture
def seeded(app, alice, bob):
    """Alice: 7 jobs in every state; Bob: 1 completed job. Times relative to now."""
    now = utcnow()
    ago = lambda seconds: now - timedelta(seconds=seconds)  # noqa: E731

    def job(client, priority="medium", **values):
        created = client.create(priority=priority)
        set_job(app, created["id"], **values)

    job(alice, "high")  # pending, eligible
    job(alice, "low", run_at=now + timedelta(hours=1))  # pending, waiting for its run_at
    job(alice, "medium", deadline=ago(60))  # pending past its deadline: missed
    job(alice, "medium", status="running", created_at=ago(100), started_at=ago(90),
        attempts=1)
    job(alice, "high", status="completed", created_at=ago(200), started_at=ago(170),
        finished_at=ago(110), deadline=ago(150), deadline_missed=True)
    job(alice, "low", status="failed", created_at=ago(300), started_at=ago(280),
        finished_at=ago(260), error="boom")
    job(alice, "medium", status="cancelled", finished_at=ago(5))  # never started
    job(bob, "low", status="completed", created_at=ago(50), started_at=ago(40),
        finished_at=ago(20))


@pytest.mark.parametrize("app_overrides", [{"JOBSCHED_MAX_CONCURRENT_JOBS": 7}])
def test_stats_of_a_user_cover_only_their_jobs(seeded, alice):
    stats = alice.get("/jobs/stats/")
    assert stats == {
        "total": 7,
        "by_status": {"pending": 3, "running": 1, "completed": 1, "failed": 1, "cancelled": 1},
        "by_priority": {"high": 2, "medium": 3, "low": 2},
        "running": 1, "running_all": 1, "queued": 2, "max_concurrent": 7,
        "avg_wait_seconds": pytest.approx(20, abs=0.01),  # (10 + 30 + 20) / 3
        "avg_run_seconds": pytest.approx(40, abs=0.01),  # (60 + 20) / 2
        "deadline_missed": 2,
    }


def test_stats_of_an_admin_cover_everyone(seeded, root, bob):
    stats = root.get("/jobs/stats/")
    assert stats["total"] == 8 and stats["by_status"]["completed"] == 2
    assert stats["by_priority"] == {"high": 2, "medium": 3, "low": 3}
    assert stats["avg_wait_seconds"] == pytest.approx(17.5, abs=0.01)
    assert stats["avg_run_seconds"] == pytest.approx(100 / 3, abs=0.01)
    assert (stats["queued"], stats["running"], stats["deadline_missed"]) == (2, 1, 2)
    assert stats["running_all"] == stats["running"]  # an admin's view is already everyone's
    assert stats["max_concurrent"] == 3

    mine = bob.get("/jobs/stats/")
    assert (mine["total"], mine["queued"], mine["deadline_missed"]) == (1, 0, 0)
    assert (mine["avg_wait_seconds"], mine["avg_run_seconds"]) == (pytest.approx(10, abs=0.01),
                                                                   pytest.approx(20, abs=0.01))


def test_stats_with_no_jobs_are_zeros_and_no_averages(alice):
    assert alice.get("/jobs/stats/") == {**EMPTY, "max_concurrent": 3}


def test_stats_are_two_aggregate_queries_none_over_finished_jobs(app, seeded):
    """The totals come from the kept counts; the one query over `jobs` reads only pending and
    running jobs (what depends on the clock), so a long history costs nothing."""
    statements: list[str] = []
    with app.app_context():
        user = db.session.get(User, user_id(app, "alice"))
        listener = lambda *args: statements.append(args[2].lower())  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            stats = job_stats(db.session, user, 3)
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
    assert stats["total"] == 7
    assert len(statements) == 2, statements
    totals, live = statements
    assert "from job_counts" in totals and "group by" in totals and "from jobs" not in totals
    assert "from jobs" in live and "job_counts" not in live
    # pending and running (the caller's), then running system-wide (`running_all`)
    assert live.count("where jobs.status = ") == 3
    assert "completed" not in live and "failed" not in live and "cancelled" not in live


@pytest.mark.parametrize("app_overrides", [{"JOBSCHED_MAX_CONCURRENT_JOBS": 4}])
def test_a_user_sees_the_slots_others_fill_but_not_their_jobs(app, alice, bob):
    """Issue 16: Bob's job waits while Alice's fill every slot; his stats say the slots are
    busy (`running_all`) while his own counts stay his."""
    for _ in range(3):
        make_running(app, alice.create()["id"])
    bob.create()
    stats = bob.get("/jobs/stats/")
    assert (stats["running"], stats["running_all"], stats["max_concurrent"]) == (0, 3, 4)
    assert (stats["total"], stats["by_status"]["running"], stats["queued"]) == (1, 0, 1)

    make_running(app, bob.create()["id"])
    stats = bob.get("/jobs/stats/")
    assert (stats["running"], stats["running_all"]) == (1, 4)
    assert alice.get("/jobs/stats/")["running_all"] == 4
