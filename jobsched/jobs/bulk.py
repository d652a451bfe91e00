"""Acting on many jobs at once (SPEC §13): cancel, retry or delete the caller's visible jobs
named by id or matched by the list's filters, in set-based statements.

A job in a state the action does not apply to is skipped and counted, not an error. Each
action is one transaction of a few statements over all the jobs, whatever their number;
the schedulers' claims skip rows it holds (SKIP LOCKED), so a large one never stalls them.
Browsers get one coalesced update (the real-time sink batches the per-job facts).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from ..models import Execution, Job, JobDependency, User
from ..scheduler.events import EventSink, JobChanged, JobDeleted
from ..scheduler.states import ExecutionStatus, JobStatus
from ..storage.dependencies import DOOMED, cancel_dependents, waiting_for
from ..storage.queue import DB_NOW as NOW
from ..storage.timesql import seconds_between
from .errors import ValidationFailed
from .fair_use import DEFAULT_RULES, FairUse, reserve_pending
from .queries import MAX_ID, filtered_jobs, parse_job_filter
from .service import past_deadline, write_transaction

MAX_IDS = 10_000
ACTIONS = ("cancel", "retry", "delete")
_CANCELLABLE = (JobStatus.PENDING.value, JobStatus.RUNNING.value)
_HOLDING = _CANCELLABLE  # the states in which a job holds its unique key
_RETRYABLE = (JobStatus.FAILED.value, JobStatus.CANCELLED.value)


Changed = list[tuple[int, int]]  # (job id, owner id)


@dataclass(frozen=True, slots=True)
class Done:
    """What an action did: the matched jobs it changed (or deleted), and the jobs that
    depend on them and were cancelled with them."""

    jobs: Changed
    dependents: Changed


@dataclass(frozen=True, slots=True)
class BulkResult:
    matched: int  # visible jobs named or matched
    changed: int  # of them, those the action changed
    skipped: int  # of them, those in a state it does not apply to


def bulk_action(
    session: Session, user: User, body: Any, sink: EventSink, rules: FairUse = DEFAULT_RULES,
) -> BulkResult:
    """Run `body`'s action over its jobs (ValidationFailed for a bad body, QuotaExceeded when
    a retry would give an owner more pending jobs than allowed)."""
    action, matched = _parse(user, body)
    run = {"cancel": _cancel, "retry": _retry, "delete": _delete}[action]
    with write_transaction(session):
        total = session.scalar(select(func.count()).select_from(matched.subquery())) or 0
        # Not correlated to the statements' own `jobs`: a list of ids of its own.
        done = run(session, user, matched.with_only_columns(Job.id).correlate(None), rules)
        session.commit()
    fact = JobDeleted if action == "delete" else JobChanged
    for job_id, owner_id in done.jobs:
        sink.publish(fact(job_id, owner_id))
    for job_id, owner_id in done.dependents:
        sink.publish(JobChanged(job_id, owner_id))
    return BulkResult(total, len(done.jobs), total - len(done.jobs))


def _parse(user: User, body: Any) -> tuple[str, Select[Any]]:
    """The action and the visible jobs it is for; every problem at once."""
    if not isinstance(body, Mapping):
        raise ValidationFailed({"": "Send a JSON object."}, "Invalid bulk action.")
    errors = {key: "Unknown field." for key in body if key not in ("action", "ids", "filter")}
    if body.get("action") not in ACTIONS:
        errors["action"] = f"Use one of {', '.join(ACTIONS)}."
    if ("ids" in body) == ("filter" in body):
        errors["ids"] = "Send either ids or filter."
    matched = select(Job)
    try:
        matched = _matching(user, body)
    except ValidationFailed as problem:
        errors.update(problem.errors)
    if errors:
        raise ValidationFailed(errors, "Invalid bulk action.")
    return body["action"], matched


def _matching(user: User, body: Mapping[str, Any]) -> Select[Any]:
    if "filter" in body:
        return filtered_jobs(user, parse_job_filter(body["filter"]))
    ids = body.get("ids")
    if not isinstance(ids, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) and 1 <= i <= MAX_ID for i in ids):
        raise ValidationFailed({"ids": "Must be a list of job ids."})
    if len(ids) > MAX_IDS:
        raise ValidationFailed({"ids": f"Name at most {MAX_IDS:,} jobs; use a filter."})
    return filtered_jobs(user, parse_job_filter({})).where(Job.id.in_(set(ids)))


def _cancel(session: Session, user: User, ids: Select[Any], rules: FairUse) -> Done:
    """Pending and running jobs become cancelled; running attempts lose their lease (their
    schedulers stop them) and their executions close; dependents are cancelled too."""
    rows = session.execute(update(Job).where(Job.id.in_(ids), Job.status.in_(_CANCELLABLE))
                           .values(status=JobStatus.CANCELLED.value, finished_at=NOW.sql,
                                   deadline_missed=Job.deadline_missed | past_deadline(),
                                   node=None, lease_token=None, lease_expires_at=None,
                                   updated_at=NOW.sql)
                           .returning(Job.id, Job.owner_id),
                           execution_options={"synchronize_session": False}).all()
    changed = [(row.id, row.owner_id) for row in rows]
    cancelled = [job_id for job_id, _ in changed]
    session.execute(update(Execution).where(
        Execution.job_id.in_(cancelled), Execution.status == ExecutionStatus.RUNNING.value,
    ).values(status=ExecutionStatus.CANCELLED.value, finished_at=NOW.sql,
             error=f"cancelled by {user.username}",
             duration_seconds=seconds_between(Execution.started_at, NOW.sql)),
        execution_options={"synchronize_session": False})
    return Done(changed, _dependents_of(session, cancelled, "was cancelled"))


def _retry(session: Session, user: User, ids: Select[Any], rules: FairUse) -> Done:
    """Failed and cancelled jobs are pending again from attempt 1, within each owner's
    quota; skipped: one whose unique key another job holds (or an earlier one of these
    takes), or that depends on a job that failed or was cancelled."""
    retryable = select(Job.id).where(Job.id.in_(ids), _retryable(ids)).correlate(None)
    owners = Counter(session.scalars(select(Job.owner_id).where(Job.id.in_(retryable))))
    for owner_id, count in sorted(owners.items()):
        reserve_pending(session, owner_id, count, rules)
    rows = session.execute(update(Job).where(Job.id.in_(retryable)).values(
        status=JobStatus.PENDING.value, attempts=0, error=None, result=None, progress=None,
        finished_at=None, deadline_missed=False, queued_at=NOW.sql, updated_at=NOW.sql,
        waiting_on=waiting_for(Job.id),
    ).returning(Job.id, Job.owner_id), execution_options={"synchronize_session": False}).all()
    return Done([(row.id, row.owner_id) for row in rows], [])


def _retryable(ids: Select[Any]) -> Any:
    """A job of `ids` a retry may put back: failed or cancelled, its unique key free (held
    by no pending or running job, nor by an earlier job of `ids`), and no job it depends on
    failed or was cancelled."""
    other, parent = aliased(Job), aliased(Job)
    key_taken = exists().where(
        other.owner_id == Job.owner_id, other.unique_key == Job.unique_key,
        or_(other.status.in_(_HOLDING),
            and_(other.id < Job.id, other.id.in_(ids), other.status.in_(_RETRYABLE))))
    doomed_parent = exists().where(
        JobDependency.job_id == Job.id, parent.id == JobDependency.depends_on_id,
        parent.status.in_(DOOMED))
    return and_(Job.status.in_(_RETRYABLE),
                or_(Job.unique_key.is_(None), ~key_taken), ~doomed_parent)


def _delete(session: Session, user: User, ids: Select[Any], rules: FairUse) -> Done:
    """Jobs not running are deleted with their executions; their dependents are cancelled."""
    deleted = [(row.id, row.owner_id) for row in session.execute(
        select(Job.id, Job.owner_id).where(Job.id.in_(ids),
                                           Job.status != JobStatus.RUNNING.value))]
    gone = [job_id for job_id, _ in deleted]
    dependents = _dependents_of(session, gone, "was deleted")
    session.execute(delete(Execution).where(Execution.job_id.in_(gone)),
                    execution_options={"synchronize_session": False})
    session.execute(delete(Job).where(Job.id.in_(gone), Job.status != JobStatus.RUNNING.value),
                    execution_options={"synchronize_session": False})
    deleting = set(gone)
    return Done(deleted, [found for found in dependents if found[0] not in deleting])


def _dependents_of(session: Session, ended: list[int], how: str) -> Changed:
    """Cancel what waits for these jobs, down the chain."""
    return cancel_dependents(session.connection(), dict.fromkeys(ended, how), NOW)
