"""`depends_on` on the way in (SPEC §12): which jobs a job may depend on, checked inside the
write's transaction with those jobs locked, so none of them ends unseen in between.

The SQL of the edges and of settling dependents is storage/dependencies.py; this module
is the rules a user meets: visible ids only, at most 100, none that failed or was
cancelled (the job could never run), no cycle.
"""
from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import Job, User
from ..scheduler.states import JobStatus
from ..storage.dependencies import DOOMED, reaches
from .errors import ValidationFailed
from .queries import visible_jobs

MAX_DEPENDS_ON = 100
# Serialises changes of dependencies on PostgreSQL, so two concurrent edits cannot close a
# cycle that neither sees (a create adds a job nothing depends on yet: it needs no lock).
DEPENDENCY_LOCK_KEY = 0x6A6F626465707321  # "jobdeps!"


def clean_depends_on(value: Any) -> list[int]:
    """A list of up to MAX_DEPENDS_ON job ids, duplicates dropped (a field cleaner)."""
    if not isinstance(value, list):
        raise ValueError("Must be a list of job ids.")
    if any(isinstance(v, bool) or not isinstance(v, int) or not 1 <= v < 2**31 for v in value):
        raise ValueError("Must be a list of job ids.")
    ids = list(dict.fromkeys(value))
    if len(ids) > MAX_DEPENDS_ON:
        raise ValueError(f"Depend on at most {MAX_DEPENDS_ON} jobs.")
    return ids


def lock_parents(session: Session, user: User, ids: Sequence[int]) -> int:
    """Lock the jobs a job will depend on (they cannot end until this transaction does) and
    return how many have not completed; ValidationFailed when one is not visible to `user`,
    or failed or was cancelled."""
    return waiting_on(lock_jobs(session, user, ids), ids)


def lock_jobs(session: Session, user: User, ids: Collection[int]) -> dict[int, str]:
    """The status of each of these jobs `user` can see, locked against ending until this
    transaction does (PostgreSQL; SQLite's one writer has them to itself anyway)."""
    if not ids:
        return {}
    query = visible_jobs(user).with_only_columns(Job.id, Job.status).where(
        Job.id.in_(list(ids))).order_by(Job.id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(read=True)
    return {row.id: row.status for row in session.execute(query)}


def waiting_on(found: dict[int, str], ids: Sequence[int]) -> int:
    """How many of `ids` have not completed, given `found` (lock_jobs); ValidationFailed
    when one was not found, or failed or was cancelled."""
    missing = [job_id for job_id in ids if job_id not in found]
    if missing:
        raise _refused(f"Job {missing[0]} not found.")
    doomed = [job_id for job_id in ids if found[job_id] in DOOMED]
    if doomed:
        raise _refused(f"Job {doomed[0]} {found[doomed[0]]}: a job depending on it could "
                       "never run.")
    return sum(1 for job_id in ids if found[job_id] != JobStatus.COMPLETED.value)


def check_no_cycle(session: Session, job_id: int, ids: Sequence[int]) -> None:
    """ValidationFailed if `job_id` depending on `ids` would close a cycle."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(DEPENDENCY_LOCK_KEY)))
    if reaches(session.connection(), ids, job_id):
        raise _refused(f"Job {job_id} cannot depend on these jobs: one of them depends on it "
                       "already (a cycle).")


def _refused(message: str) -> ValidationFailed:
    return ValidationFailed({"depends_on": message}, "Invalid job.")
