"""Submitting many jobs in one call (SPEC §13): 1–1000 create bodies, one transaction, all
or nothing.

Every item is checked as a single create would be, and every problem is reported at once,
keyed by the item's index (`jobs[3].args.seconds`). The pending quota and the submission
rate count the whole batch; unique keys may not repeat within it, nor be held already.
The rows go in as one multi-row INSERT, and their dependencies as another.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session, lazyload
from sqlalchemy.orm.attributes import set_committed_value

from ..database import commit_keeping_loaded
from ..models import Job, JobDependency, User
from ..scheduler.events import EventSink, JobChanged
from ..scheduler.registry import TaskRegistry
from ..storage.dependencies import add_edges
from .depends import lock_jobs, waiting_on
from .errors import Forbidden, ValidationFailed
from .fair_use import DEFAULT_RULES, FairUse, reserve_pending
from .fields import new_job_row
from .service import while_key_moves, write_transaction
from .unique import unique_keys_held

MAX_BATCH = 1000

Item = tuple[dict[str, Any], list[int]]  # a row to insert and the ids it depends on


def create_jobs(
    session: Session, user: User, items: Any, registry: TaskRegistry, sink: EventSink,
    rules: FairUse = DEFAULT_RULES,
) -> list[Job]:
    """Create every job of `items` owned by `user`, or none: ValidationFailed (or Forbidden)
    naming each bad item's fields, QuotaExceeded, DuplicateJob."""
    checked = _checked(user, items, registry, rules)
    jobs = while_key_moves(lambda: _insert(session, user, checked, rules))
    for job in jobs:
        sink.publish(JobChanged(job.id, job.owner_id))
    return jobs


def _checked(user: User, items: Any, registry: TaskRegistry, rules: FairUse) -> list[Item]:
    """Each item as a single create checks it; every problem at once, keyed by index."""
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
        raise ValidationFailed({"jobs": f"Send a list of 1–{MAX_BATCH} jobs."}, "Invalid batch.")
    checked: list[Item] = []
    errors: dict[str, str] = {}
    refused: dict[str, str] = {}
    keys: dict[str, int] = {}
    for index, data in enumerate(items):
        where = f"jobs[{index}]"
        try:
            if not isinstance(data, Mapping):
                raise ValidationFailed({"": "Must be a JSON object."})
            row, depends_on = new_job_row(user, data, registry, rules)
        except ValidationFailed as problem:
            errors.update(_under(where, problem.errors))
            continue
        except Forbidden as problem:
            refused.update(_under(where, problem.errors or {"": str(problem)}))
            continue
        key = row.get("unique_key")
        if key is not None and key in keys:
            errors[f"{where}.unique_key"] = f"The same key as jobs[{keys[key]}]."
        elif key is not None:
            keys[key] = index
        checked.append((row, depends_on))
    if errors:
        raise ValidationFailed(errors, "Invalid jobs; none was stored.")
    if refused:
        raise Forbidden("Not allowed; none was stored.", refused)
    return checked


def _under(where: str, errors: Mapping[str, str]) -> dict[str, str]:
    return {(f"{where}.{field}" if field else where): why for field, why in errors.items()}


def _insert(session: Session, user: User, items: list[Item], rules: FairUse) -> list[Job]:
    """One transaction: the quota for all, the jobs depended on locked, two INSERTs."""
    fields = {row["unique_key"]: f"jobs[{index}].unique_key"
              for index, (row, _) in enumerate(items) if row.get("unique_key") is not None}
    with unique_keys_held(session, user.id, fields):
        with write_transaction(session, after_reads="keep"):
            reserve_pending(session, user.id, len(items), rules)
            rows = _waiting_rows(session, user, items)
            inserted = (insert(Job).returning(Job, sort_by_parameter_order=True)
                        .options(lazyload(Job.dependencies)))
            jobs = list(session.scalars(inserted, rows))
            _add_edges(session, jobs, [depends_on for _, depends_on in items])
            commit_keeping_loaded(session)
    return jobs


def _waiting_rows(session: Session, user: User, items: list[Item]) -> list[dict[str, Any]]:
    """The rows with how many of their dependencies each waits for (locked meanwhile)."""
    found = lock_jobs(session, user, {job_id for _, ids in items for job_id in ids})
    rows, errors = [], {}
    for index, (row, depends_on) in enumerate(items):
        try:
            rows.append({**row, "waiting_on": waiting_on(found, depends_on)})
        except ValidationFailed as problem:
            errors.update(_under(f"jobs[{index}]", problem.errors))
    if errors:
        raise ValidationFailed(errors, "Invalid jobs; none was stored.")
    return rows


def _add_edges(session: Session, jobs: Sequence[Job], depends_on: Sequence[list[int]]) -> None:
    add_edges(session.connection(), [(job.id, parent) for job, parents
                                     in zip(jobs, depends_on, strict=True) for parent in parents])
    for job, parents in zip(jobs, depends_on, strict=True):
        set_committed_value(job, "dependencies", [
            JobDependency(job_id=job.id, depends_on_id=parent) for parent in sorted(parents)])
