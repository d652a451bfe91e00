"""Unique jobs (SPEC §12): while a job of an owner with a `unique_key` is pending or running,
no other job of that owner may hold the key.

The database's partial unique index (models.py `UNIQUE_INDEX`) is the rule, so two creates
racing with one key make exactly one job; this module turns the index's refusal into
`DuplicateJob` naming the job that holds the key.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..models import UNIQUE_INDEX, Job
from ..scheduler.states import JobStatus
from .errors import DuplicateJob

HOLDING = (JobStatus.PENDING.value, JobStatus.RUNNING.value)


@contextmanager
def unique_key_held(session: Session, owner_id: int, key: str | None) -> Iterator[None]:
    """Run a write that may give a job `key`; if another job of the owner holds it, raise
    DuplicateJob with that job's id (None: it let go of the key meanwhile, try again). The
    write's transaction must already be rolled back when the refusal leaves it."""
    try:
        yield
    except IntegrityError as error:
        if key is None or not _is_unique_key_refusal(error):
            raise
        raise DuplicateJob(key, holder(session, owner_id, key)) from None


def holder(session: Session, owner_id: int, key: str) -> int | None:
    """The owner's pending or running job holding `key`, if any."""
    return session.scalar(select(Job.id).where(
        Job.owner_id == owner_id, Job.unique_key == key, Job.status.in_(HOLDING)))


def _is_unique_key_refusal(error: IntegrityError) -> bool:
    # PostgreSQL names the index; SQLite names the columns.
    text = str(error.orig)
    return UNIQUE_INDEX in text or "jobs.unique_key" in text
