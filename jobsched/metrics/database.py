"""Queue metrics read from the database at scrape time, so any process tells the same truth.

Jobs by status, queue depth, running vs the limit, live scheduler nodes and execution
records by status describe the whole system, whatever process runs what; a handful of
aggregate queries computes them per scrape. Only aggregates leave: no job names, no users.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import Connection, Engine, func, select

from ..scheduler.states import ExecutionStatus, JobStatus, NodeStatus
from ..storage.counts import job_counts
from ..storage.queue import ELIGIBLE, db_now, executions, jobs, nodes

log = logging.getLogger(__name__)

LIVE_NODE_STATES = (NodeStatus.RUNNING.value,)


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    """What one scrape read from the database."""

    jobs_by_status: dict[str, int]
    queue_depth: int
    nodes_alive: int
    executions_by_status: dict[str, int]


def read_snapshot(conn: Connection) -> QueueSnapshot:
    """The aggregates, one query each: jobs by status sums the kept counts (counts.py);
    executions by status scans the table, which retention (JOBSCHED_RETENTION_DAYS) keeps
    bounded."""
    by_status = conn.execute(select(job_counts.c.status, func.sum(job_counts.c.jobs))
                             .group_by(job_counts.c.status))
    execution_counts = conn.execute(
        select(executions.c.status, func.count()).group_by(executions.c.status))
    depth = conn.scalar(select(func.count()).select_from(jobs).where(ELIGIBLE))
    alive = conn.scalar(select(func.count()).select_from(nodes).where(
        nodes.c.status.in_(LIVE_NODE_STATES), nodes.c.lease_expires_at > db_now()))
    return QueueSnapshot(
        jobs_by_status={status: int(count) for status, count in by_status if count},
        queue_depth=depth or 0, nodes_alive=alive or 0,
        executions_by_status={status: count for status, count in execution_counts},
    )


class QueueCollector:
    """A prometheus_client collector: the database's view of the queue, per scrape."""

    def __init__(self, engine: Engine, limit: int) -> None:
        self._engine, self._limit = engine, limit

    def describe(self) -> list[Metric]:
        """The families without samples (lets a registry check names without a query)."""
        return [*_families(None, self._limit), _up(None)]

    def collect(self) -> Iterator[Metric]:
        """Read a snapshot; if the database does not answer, say so instead of failing."""
        try:
            with self._engine.connect() as conn:
                snapshot = read_snapshot(conn)
        except Exception as error:
            # One line per scrape while it lasts; the first line of the error says why.
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
            log.warning("metrics: the database did not answer: %s", reason)
            yield _up(0)
            return
        yield _up(1)
        yield from _families(snapshot, self._limit)


def _families(snapshot: QueueSnapshot | None, limit: int) -> list[Metric]:
    """The queue's gauge families, filled from `snapshot` (empty when None)."""
    by_status = _gauge("jobsched_jobs", "Jobs in the database by status.", ["status"])
    depth = _gauge("jobsched_queue_depth",
                   "Pending jobs eligible to run now (run_at empty or past).")
    running = _gauge("jobsched_running_jobs", "Jobs running now, system-wide.")
    ceiling = _gauge("jobsched_max_concurrent_jobs",
                     "The system-wide limit on running jobs (JOBSCHED_MAX_CONCURRENT_JOBS).")
    alive = _gauge("jobsched_scheduler_nodes_alive",
                   "Scheduler processes whose heartbeat lease has not expired.")
    records = _gauge("jobsched_execution_records",
                     "Execution records in the database by status (pruning removes old ones).",
                     ["status"])
    families = [by_status, depth, running, ceiling, alive, records]
    if snapshot is None:
        return families
    for status in JobStatus:
        by_status.add_metric([status.value], snapshot.jobs_by_status.get(status.value, 0))
    for outcome in ExecutionStatus:
        records.add_metric([outcome.value], snapshot.executions_by_status.get(outcome.value, 0))
    depth.add_metric([], snapshot.queue_depth)
    running.add_metric([], snapshot.jobs_by_status.get(JobStatus.RUNNING.value, 0))
    ceiling.add_metric([], limit)
    alive.add_metric([], snapshot.nodes_alive)
    return families


def _up(value: int | None) -> Metric:
    family = _gauge("jobsched_database_up",
                    "1 if this scrape could read the database, else 0 (queue metrics missing).")
    if value is not None:
        family.add_metric([], value)
    return family


def _gauge(name: str, documentation: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=labels or [])
