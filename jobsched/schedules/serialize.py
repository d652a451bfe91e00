"""The one JSON form of a schedule (SPEC §12), for the API, the pages and their scripts."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..jobs.serialize import iso
from ..models import Job, Schedule


def last_job_statuses(session: Session, schedules: list[Schedule]) -> dict[int, str]:
    """The status of each schedule's last job that still exists, by job id (one query)."""
    ids = [s.last_job_id for s in schedules if s.last_job_id is not None]
    if not ids:
        return {}
    return dict(session.execute(select(Job.id, Job.status).where(Job.id.in_(ids))).all())


def schedule_to_json(schedule: Schedule, statuses: dict[int, str]) -> dict[str, Any]:
    """A schedule as the API shows it; `statuses` from last_job_statuses (a deleted last job
    has none: null)."""
    return {
        "id": schedule.id,
        "name": schedule.name,
        "cron": schedule.cron,
        "timezone": schedule.timezone,
        "job": schedule.job,
        "enabled": schedule.enabled,
        "overlap": schedule.overlap,
        "next_run_at": iso(schedule.next_run_at),
        "last_run_at": iso(schedule.last_run_at),
        "last_job_id": schedule.last_job_id,
        "last_job_status": statuses.get(schedule.last_job_id) if schedule.last_job_id else None,
        "owner": schedule.owner.username,
        "created_at": iso(schedule.created_at),
        "updated_at": iso(schedule.updated_at),
    }


def schedules_to_json(session: Session, schedules: list[Schedule]) -> list[dict[str, Any]]:
    statuses = last_job_statuses(session, schedules)
    return [schedule_to_json(schedule, statuses) for schedule in schedules]
