"""Reading the scheduler nodes for the admin page: state, heartbeat age, running jobs."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Job, SchedulerNode
from ..scheduler.states import JobStatus, NodeStatus
from ..storage.queue import db_now

LIVE_STATES = (NodeStatus.RUNNING.value,)
RECENTLY_STOPPED = 10  # stopped nodes shown, most recent first; older ones are history


@dataclass(frozen=True, slots=True)
class NodeView:
    """A node as the page shows it."""

    node: SchedulerNode
    state: str  # running, stopped, or unresponsive (a live row whose lease ran out)
    heartbeat_age: float  # seconds since its last heartbeat, by the database's clock
    running: list[Job] = field(default_factory=list)


def database_now(session: Session) -> datetime:
    """The database's clock: heartbeats are written with it, so ages are measured with it."""
    return session.scalar(select(db_now()))


def node_state(node: SchedulerNode, now: datetime) -> str:
    """The stored status, except that a live node whose lease expired is unresponsive."""
    if node.status in LIVE_STATES and node.lease_expires_at < now:
        return "unresponsive"
    return node.status


def running_by_node(session: Session) -> dict[str, list[Job]]:
    """Running jobs grouped by the node that holds them, oldest start first."""
    running = session.scalars(select(Job).where(Job.status == JobStatus.RUNNING.value)
                              .order_by(Job.started_at, Job.id))
    grouped: dict[str, list[Job]] = defaultdict(list)
    for job in running:
        grouped[job.node or ""].append(job)
    return grouped


def node_views(session: Session) -> tuple[list[NodeView], list[NodeView]]:
    """Live nodes (running or unresponsive) and the most recently stopped ones."""
    now = database_now(session)
    jobs = running_by_node(session)
    live = session.scalars(select(SchedulerNode).where(SchedulerNode.status.in_(LIVE_STATES))
                           .order_by(SchedulerNode.name)).all()
    stopped = session.scalars(
        select(SchedulerNode).where(SchedulerNode.status.not_in(LIVE_STATES))
        .order_by(SchedulerNode.stopped_at.desc(), SchedulerNode.id.desc())
        .limit(RECENTLY_STOPPED)).all()

    def view(node: SchedulerNode) -> NodeView:
        age = max(0.0, (now - node.heartbeat_at).total_seconds())
        return NodeView(node, node_state(node, now), age, jobs.get(node.name, []))

    return [view(n) for n in live], [view(n) for n in stopped]
