"""/admin/nodes (SPEC §8): scheduler nodes with heartbeats, running jobs and concurrency,
for administrators only."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from jobsched.extensions import db
from jobsched.models import Job, SchedulerNode, User
from jobsched.scheduler.clock import utcnow
from tests.conftest import make_user
from tests.web.page import page_of


def add_node(app, name: str, status: str = "running", heartbeat_age: float = 2,
             lease_left: float = 28, concurrency: int = 3) -> None:
    now = utcnow()
    with app.app_context():
        db.session.add(SchedulerNode(
            name=name, hostname="host-a", pid=4242, concurrency=concurrency, status=status,
            started_at=now - timedelta(hours=1),
            heartbeat_at=now - timedelta(seconds=heartbeat_age),
            lease_expires_at=now + timedelta(seconds=lease_left),
            stopped_at=now if status == "stopped" else None,
        ))
        db.session.commit()


def add_running_job(app, node: str, name: str, owner: str) -> int:
    with app.app_context():
        owner_id = db.session.scalar(select(User.id).where(User.username == owner))
        job = Job(name=name, task="sleep", args={}, owner_id=owner_id, status="running",
                  node=node, progress=40, started_at=utcnow())
        db.session.add(job)
        db.session.commit()
        return job.id


def card_text(page, node: str) -> str:
    [card] = page.all("article", **{"data-node": node})
    return " ".join(card.text.split())


def test_admins_see_live_and_stopped_nodes_with_their_running_jobs(app, client, auth):
    auth.register("root")
    add_node(app, "alpha", heartbeat_age=3)
    add_node(app, "beta", heartbeat_age=45, lease_left=-15)  # missed its heartbeats
    add_node(app, "gamma", status="stopped", heartbeat_age=600)
    job_id = add_running_job(app, "alpha", "crunch", "root")
    page = page_of(client.get("/admin/nodes"))
    assert "1 of 3 job slots in use system-wide" in page.text_of("nodes-summary")
    assert "on 2 live nodes" in page.text_of("nodes-summary")
    alpha = card_text(page, "alpha")
    assert "alpha running" in alpha and "3 s ago" in alpha and "host-a, 4242" in alpha
    assert "1 running of 3" in alpha and f"#{job_id} crunch" in alpha and "40%" in alpha
    assert "beta unresponsive" in card_text(page, "beta")
    assert "gamma stopped" in card_text(page, "gamma")
    assert "Recently stopped" in page.text_of("stopped-heading")


def test_without_nodes_the_page_says_jobs_wait(client, auth):
    auth.register("root")
    page = page_of(client.get("/admin/nodes"))
    assert "No scheduler is running" in page.text_of("nodes")


def test_other_users_get_403_and_visitors_the_login_page(app, client, auth):
    make_user(app, "root", admin=True)
    assert client.get("/admin/nodes").status_code == 302
    auth.register("alice")
    response = client.get("/admin/nodes")
    assert response.status_code == 403
    assert "Only administrators" in response.get_data(as_text=True)
