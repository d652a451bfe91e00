"""Unique jobs (SPEC §12): while a job of an owner with a `unique_key` is pending or running,
no other job of that owner may hold the key.

The database's partial unique index (models.py `UNIQUE_INDEX`) is the rule, so two creates
racing with one key make exactly one job; this module turns the index's refusal into
`DuplicateJob` naming the job that holds the key.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
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
    with unique_keys_held(session, owner_id, {} if key is None else {key: "unique_key"}):
        yield


@contextmanager
def unique_keys_held(
    session: Session, owner_id: int, fields: Mapping[str, str],
) -> Iterator[None]:
    """unique_key_held for a write giving several jobs their keys: `fields` maps each key
    to the field that asked for it (a batch's "jobs[3].unique_key"), which DuplicateJob
    names for the first key found held."""
    try:
        yield
    except IntegrityError as error:
        if not fields or not _is_unique_key_refusal(error):
            raise
        held = holders(session, owner_id, list(fields))
        key = next((key for key in fields if key in held), next(iter(fields)))
        raise DuplicateJob(key, held.get(key), fields[key]) from None


def holders(session: Session, owner_id: int, keys: list[str]) -> dict[str, int]:
    """The owner's pending or running jobs holding any of `keys`, by key."""
    rows = session.execute(select(Job.unique_key, Job.id).where(
        Job.owner_id == owner_id, Job.unique_key.in_(keys), Job.status.in_(HOLDING)))
    return {row.unique_key: row.id for row in rows}


def _is_unique_key_refusal(error: IntegrityError) -> bool:
    # PostgreSQL names the index; SQLite names the columns.
    text = str(error.orig)
    return UNIQUE_INDEX in text or "jobs.unique_key" in text
