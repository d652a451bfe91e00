"""The one JSON form of a job and of an execution (SPEC §4), for the API and Socket.IO alike.

Datetimes always leave with an offset; on the way in a naive one means UTC.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from ..models import Execution, Job
from ..scheduler.clock import as_utc, utcnow
from ..scheduler.policy import STRICT, QueuePolicy, eligible_since
from ..scheduler.states import FINISHED, JobStatus


def iso(value: datetime | None) -> str | None:
    """ISO-8601 in UTC with its offset (`...+00:00`), or None."""
    value = as_utc(value)
    return value.isoformat() if value is not None else None


def parse_datetime(value: Any) -> datetime | None:
    """An ISO-8601 string (naive means UTC) as an aware UTC datetime; None stays None.

    Raises ValueError for anything else, including times that leave datetime's range once
    converted to UTC (e.g. year 9999 with a negative offset).
    """
    if value is None or isinstance(value, datetime):
        return as_utc(value)
    if not isinstance(value, str):
        raise ValueError("Use an ISO-8601 date and time, e.g. 2030-01-31T17:00:00+00:00.")
    try:
        return as_utc(datetime.fromisoformat(value.strip()))
    except (ValueError, OverflowError):
        raise ValueError(
            f"{value!r} is not an ISO-8601 date and time, e.g. 2030-01-31T17:00:00+00:00."
        ) from None


def deadline_missed(job: Job, now: datetime) -> bool:
    """Finished after its deadline (recorded at finish), or still unfinished past it."""
    if job.deadline_missed:
        return True
    unfinished = JobStatus(job.status) not in FINISHED
    deadline = as_utc(job.deadline)
    return unfinished and deadline is not None and deadline < now


def effective_priority(job: Job, now: datetime, policy: QueuePolicy) -> str:
    """The class a pending job is ordered in now (SPEC §10); any other job's own."""
    if job.status != JobStatus.PENDING.value:
        return job.priority
    since = eligible_since(as_utc(job.queued_at), as_utc(job.run_at))
    return policy.effective_priority(job.priority, since, now).value


def job_to_json(
    job: Job, now: datetime | None = None, policy: QueuePolicy = STRICT,
) -> dict[str, Any]:
    """A job as SPEC §4 shows it (owner by username); `now` decides a pending deadline_missed
    and, with the deployment's queue `policy`, its effective_priority."""
    now = now or utcnow()
    return {
        "id": job.id,
        "name": job.name,
        "description": job.description,
        "task": job.task,
        "args": job.args,
        "priority": job.priority,
        "effective_priority": effective_priority(job, now, policy),
        "deadline": iso(job.deadline),
        "run_at": iso(job.run_at),
        "status": job.status,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "timeout_seconds": job.timeout_seconds,
        "concurrency_key": job.concurrency_key,
        "concurrency_limit": job.concurrency_limit,
        "unique_key": job.unique_key,
        "depends_on": [edge.depends_on_id for edge in job.dependencies],
        "progress": job.progress,
        "result": job.result,
        "error": job.error,
        "owner": job.owner.username,
        "created_at": iso(job.created_at),
        "updated_at": iso(job.updated_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
        "deadline_missed": deadline_missed(job, now),
        "schedule_id": job.schedule_id,
    }


def execution_to_json(execution: Execution) -> dict[str, Any]:
    """One attempt of a job as SPEC §4 shows it."""
    return {
        "id": execution.id,
        "attempt": execution.attempt,
        "status": execution.status,
        "node": execution.node,
        "started_at": iso(execution.started_at),
        "finished_at": iso(execution.finished_at),
        "duration_seconds": execution.duration_seconds,
        "output": execution.output,
        "error": execution.error,
    }
