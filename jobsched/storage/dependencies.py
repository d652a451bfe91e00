"""Dependencies between jobs in SQL (SPEC §12), in the caller's transaction.

A job with `depends_on` waits (`jobs.waiting_on` > 0, so neither the heap nor the claim
offers it) until every job it depends on completed. The write that ends a job settles its
dependents in the same transaction: a completion counts each one down (at 0 it is eligible,
and the update notifies the schedulers like any change); a failure, a cancellation or a
deletion cancels them, naming the job, and so on down the chain. No scheduler ever polls
for it.
"""
from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from sqlalchemy import Connection, delete, func, insert, literal, select, update
from sqlalchemy.orm import aliased

from ..models import JobDependency
from ..scheduler.states import JobStatus
from .fencing import ended_values
from .queue import Instant, jobs

edges = JobDependency.__table__

# Why a dependent is cancelled, by how the job it depends on ended (None: deleted).
_ENDINGS = {JobStatus.FAILED: "failed", JobStatus.CANCELLED: "was cancelled", None: "was deleted"}
DOOMED = (JobStatus.FAILED.value, JobStatus.CANCELLED.value)  # ends its dependents' hopes
ENDS_DEPENDENTS = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})

Changed = list[tuple[int, int]]  # (job id, owner id) of each dependent the settling changed


def settle_dependents(
    conn: Connection, job_id: int, ended: JobStatus | None, now: Instant,
) -> Changed:
    """`job_id` ended as `ended` (completed, failed, cancelled; None: it is being deleted,
    call this first): release or cancel the jobs waiting for it. Returns those changed."""
    if ended is JobStatus.COMPLETED:
        return _count_down(conn, job_id, now)
    if ended in _ENDINGS:
        return cancel_dependents(conn, {job_id: _ENDINGS[ended]}, now)
    return []


def _count_down(conn: Connection, job_id: int, now: Instant) -> Changed:
    """One job fewer to wait for, for each pending dependent of the completed `job_id`."""
    rows = conn.execute(update(jobs).where(
        jobs.c.id.in_(select(edges.c.job_id).where(edges.c.depends_on_id == job_id)),
        jobs.c.status == JobStatus.PENDING.value, jobs.c.waiting_on > 0,
    ).values(waiting_on=jobs.c.waiting_on - 1, updated_at=now.sql)
        .returning(jobs.c.id, jobs.c.owner_id)).all()
    return [(row.id, row.owner_id) for row in rows]


def cancel_dependents(conn: Connection, ended: dict[int, str], now: Instant) -> Changed:
    """Cancel the pending dependents of the `ended` jobs (id -> how it ended: "failed",
    "was cancelled", "was deleted"), then theirs, level by level; each names the job it
    depends on that ended (the first, when several did at once)."""
    changed: Changed = []
    while ended:
        causes = conn.execute(
            select(edges.c.job_id, func.min(edges.c.depends_on_id).label("cause"))
            .join(jobs, jobs.c.id == edges.c.job_id)
            .where(edges.c.depends_on_id.in_(list(ended)),
                   jobs.c.status == JobStatus.PENDING.value)
            .group_by(edges.c.job_id)).all()
        by_cause: dict[int, list[int]] = {}
        for row in causes:
            by_cause.setdefault(row.cause, []).append(row.job_id)
        next_level: dict[int, str] = {}
        for cause, ids in by_cause.items():
            error = f"Cancelled because job {cause}, which it depends on, {ended[cause]}."
            rows = conn.execute(update(jobs).where(
                jobs.c.id.in_(ids), jobs.c.status == JobStatus.PENDING.value,
            ).values(status=JobStatus.CANCELLED.value, error=error, updated_at=now.sql,
                     **ended_values(now)).returning(jobs.c.id, jobs.c.owner_id)).all()
            changed.extend((row.id, row.owner_id) for row in rows)
            next_level.update((row.id, "was cancelled") for row in rows)
        ended = next_level
    return changed


def set_dependencies(conn: Connection, job_id: int, depends_on: Collection[int]) -> None:
    """Make `job_id` depend on exactly these jobs (the caller sets its waiting_on from the
    jobs it locked, jobs/depends.py)."""
    conn.execute(delete(edges).where(edges.c.job_id == job_id))
    add_edges(conn, [(job_id, parent) for parent in sorted(depends_on)])


def add_edges(conn: Connection, pairs: list[tuple[int, int]]) -> None:
    """(job, the job it depends on) edges, in one multi-row INSERT."""
    if pairs:
        conn.execute(insert(edges), [{"job_id": job_id, "depends_on_id": parent}
                                     for job_id, parent in pairs])


def waiting_for(job_id: Any) -> Any:
    """How many of the jobs `job_id` (an id, or a column) depends on have not completed,
    as a scalar subquery."""
    parents = aliased(jobs)
    return (select(func.count()).select_from(edges)
            .join(parents, parents.c.id == edges.c.depends_on_id)
            .where(edges.c.job_id == job_id,
                   parents.c.status != JobStatus.COMPLETED.value)
            .scalar_subquery())


def reaches(conn: Connection, start: Iterable[int], target: int) -> bool:
    """Whether `target` is among `start` or what they depend on, transitively: giving
    `target` a dependency on any of `start` would close a cycle."""
    starts = list(start)
    if target in starts:
        return True
    found = select(edges.c.depends_on_id.label("id")).where(
        edges.c.job_id.in_(starts)).cte("found", recursive=True)
    found = found.union(select(edges.c.depends_on_id).join(
        found, edges.c.job_id == found.c.id))
    hit = select(literal(1)).select_from(found).where(found.c.id == target).limit(1)
    return conn.scalar(hit) is not None


def related(conn: Connection, job_id: int) -> tuple[list[Any], list[Any]]:
    """The jobs `job_id` depends on and the jobs that depend on it: (id, name, status,
    owner_id), by id."""
    def of(mine: Any, theirs: Any) -> list[Any]:
        return conn.execute(
            select(jobs.c.id, jobs.c.name, jobs.c.status, jobs.c.owner_id)
            .join(edges, jobs.c.id == theirs).where(mine == job_id).order_by(jobs.c.id)).all()

    return (of(edges.c.job_id, edges.c.depends_on_id),
            of(edges.c.depends_on_id, edges.c.job_id))
