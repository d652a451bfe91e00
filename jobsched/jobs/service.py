"""Changing jobs: create, update, cancel, retry and delete (SPEC §4 lifecycle, §6 rules).

Web pages and the API both call these. Each function owns its transaction: it checks its
input, starts a write transaction (BEGIN IMMEDIATE on SQLite, so a busy scheduler makes it
wait rather than fail), decides from the job's current state with the state table, writes
with a conditional statement that re-checks that state (a scheduler may claim or finish the
job meanwhile), commits, and only then publishes the fact to the event sink.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal, TypeVar

from sqlalchemy import ColumnElement, delete, insert, update
from sqlalchemy.orm import Session, lazyload
from sqlalchemy.orm.attributes import set_committed_value

from ..database import IMMEDIATE, commit_keeping_loaded
from ..models import Execution, Job, User
from ..scheduler.events import EventSink, JobChanged, JobDeleted
from ..scheduler.registry import TaskRegistry
from ..scheduler.states import (
    FINISHED,
    ExecutionStatus,
    InvalidTransition,
    JobStatus,
    transition,
)
from ..storage.dependencies import set_dependencies, settle_dependents
from ..storage.queue import DB_NOW, db_now
from ..storage.schedules import record_last_job
from ..storage.timesql import seconds_between
from .depends import check_no_cycle, lock_parents
from .errors import DuplicateJob, JobNotFound, ValidationFailed, WrongState
from .fair_use import DEFAULT_RULES, FairUse, check_priority, reserve_pending
from .fields import EDITABLE_FIELDS, checked_args, clean_fields, new_job_row, task_for
from .queries import find_visible_job
from .unique import unique_key_held

# A conditional write that lost a race re-reads the job and decides again, a few times.
_RACE_ATTEMPTS = 5

Decide = Callable[[Job], dict[str, Any]]
Written = TypeVar("Written")


def get_job(session: Session, user: User, job_id: int) -> Job:
    """The job if `user` may see it; JobNotFound for missing and not yours alike."""
    job = find_visible_job(session, user, job_id)
    if job is None:
        raise JobNotFound(job_id)
    return job


def create_job(
    session: Session, user: User, data: Mapping[str, Any], registry: TaskRegistry,
    sink: EventSink, rules: FairUse = DEFAULT_RULES, *, schedule_id: int | None = None,
) -> Job:
    """Create a pending job owned by `user` from the allowed fields of `data`, within the
    fair-use `rules` (high priority: Forbidden; the pending quota: QuotaExceeded).
    `schedule_id`: a schedule's run-now (SPEC §12), which becomes the schedule's last job."""
    row, depends_on = new_job_row(user, data, registry, rules)
    if schedule_id is not None:
        row["schedule_id"] = schedule_id
    job = while_key_moves(lambda: _insert_job(session, user, row, depends_on, rules))
    sink.publish(JobChanged(job.id, job.owner_id))
    return job


def while_key_moves(write: Callable[[], Written]) -> Written:
    """Run a write refused with DuplicateJob again while the key's holder lets go of it
    between the refusal and the read of who holds it."""
    for _ in range(_RACE_ATTEMPTS):
        try:
            return write()
        except DuplicateJob as duplicate:
            if duplicate.existing_id is not None:
                raise
    raise WrongState("The unique key kept changing hands; try again.")


def _insert_job(
    session: Session, user: User, row: dict[str, Any], depends_on: list[int], rules: FairUse,
) -> Job:
    """INSERT one pending job within the pending quota, waiting for the jobs it depends on;
    DuplicateJob if its unique key is held already (SPEC §12)."""
    with unique_key_held(session, row["owner_id"], row.get("unique_key")):
        with write_transaction(session, after_reads="keep"):
            reserve_pending(session, row["owner_id"], 1, rules)
            waiting = lock_parents(session, user, depends_on)
            # RETURNING gives the job as stored (JSONB's form of args, every column) in the
            # INSERT's own round trip, and a commit that keeps it loaded answers the caller
            # without reading it again.
            inserted = insert(Job).returning(Job).options(lazyload(Job.dependencies))
            job = session.scalars(inserted, [{**row, "waiting_on": waiting}]).one()
            if depends_on:
                set_dependencies(session.connection(), job.id, depends_on)
            else:  # known to be none: answering needs no read of them
                set_committed_value(job, "dependencies", [])
            if row.get("schedule_id") is not None:  # a run-now: the schedule's last job
                record_last_job(session.connection(), row["schedule_id"], job.id,
                                job.created_at)
            commit_keeping_loaded(session)
    return job


def update_job(
    session: Session, user: User, job_id: int, changes: Mapping[str, Any],
    registry: TaskRegistry, sink: EventSink, rules: FairUse = DEFAULT_RULES,
) -> Job:
    """Change the editable fields of a pending job (any other state: WrongState, 409); a
    high priority only for users the fair-use `rules` allow it."""
    values = clean_fields(changes, EDITABLE_FIELDS)
    if "priority" in values:
        check_priority(user, values["priority"], rules)

    depends_on = values.pop("depends_on", None)

    def decide(job: Job) -> dict[str, Any]:
        if job.status != JobStatus.PENDING.value:
            raise WrongState(f"Only a pending job can be changed; this one is {job.status}.")
        final = dict(values)
        task = task_for(registry, user, job.task)
        if "args" in final:  # the task stays; its schema judges the new args
            final["args"] = checked_args(registry, task, final["args"])
        if depends_on is not None:
            check_no_cycle(session, job.id, depends_on)
            final["waiting_on"] = lock_parents(session, user, depends_on)
        return final

    def replace_edges(job: Job) -> None:
        if depends_on is not None:
            set_dependencies(session.connection(), job.id, depends_on)

    return _change(session, user, job_id, decide, sink, after_write=replace_edges)


def cancel_job(session: Session, user: User, job_id: int, sink: EventSink) -> Job:
    """Cancel a pending or running job. A running one loses its lease at once: its execution
    closes as cancelled here, and its scheduler sees the lease gone and stops the attempt.
    The jobs waiting for it are cancelled with it (SPEC §12)."""
    dependents: list[tuple[int, int]] = []

    def decide(job: Job) -> dict[str, Any]:
        transition(job.status, JobStatus.CANCELLED)  # finished jobs: InvalidTransition
        return {
            "status": JobStatus.CANCELLED.value, "finished_at": db_now(),
            "deadline_missed": Job.deadline_missed | past_deadline(),
            "node": None, "lease_token": None, "lease_expires_at": None,
        }

    def close_attempt(job: Job) -> None:
        # After the job row is written (and so locked), like the scheduler's own writes:
        # the same lock order everywhere means no deadlock between a cancel and a finish.
        if job.status == JobStatus.RUNNING.value:
            _close_execution(session, job, f"cancelled by {user.username}")
        dependents[:] = settle_dependents(session.connection(), job.id, JobStatus.CANCELLED,
                                          DB_NOW)

    job = _change(session, user, job_id, decide, sink, after_write=close_attempt)
    _publish_all(sink, dependents)
    return job


def retry_job(
    session: Session, user: User, job_id: int, sink: EventSink, rules: FairUse = DEFAULT_RULES,
) -> Job:
    """Put a failed or cancelled job back in the queue with a fresh set of attempts; its
    earlier executions stay in the history. It counts against its owner's pending quota,
    and waits again for the jobs it depends on that have not completed (one that failed or
    was cancelled must be retried first: WrongState)."""

    def decide(job: Job) -> dict[str, Any]:
        current = JobStatus(job.status)
        if current not in FINISHED:  # running -> pending is the scheduler's move, not a user's
            raise InvalidTransition(current, JobStatus.PENDING)
        transition(current, JobStatus.PENDING)  # completed jobs: InvalidTransition
        reserve_pending(session, job.owner_id, 1, rules)
        try:
            waiting = lock_parents(session, user, [e.depends_on_id for e in job.dependencies])
        except ValidationFailed as refusal:
            raise WrongState(f"{refusal.errors['depends_on']} Retry that job first.") from None
        return {
            "status": JobStatus.PENDING.value, "attempts": 0, "error": None, "result": None,
            "progress": None, "finished_at": None, "deadline_missed": False,
            "queued_at": db_now(),  # back in the queue now: it ages from here (SPEC §10)
            "waiting_on": waiting,
        }

    job = get_job(session, user, job_id)
    owner_id, key = job.owner_id, job.unique_key

    def write() -> Job:
        with unique_key_held(session, owner_id, key):
            return _change(session, user, job_id, decide, sink)

    return while_key_moves(write)


def delete_job(session: Session, user: User, job_id: int, sink: EventSink) -> None:
    """Delete a job that is not running, with its executions."""
    for _ in range(_RACE_ATTEMPTS):
        with write_transaction(session):
            job = get_job(session, user, job_id)
            if job.status == JobStatus.RUNNING.value:
                raise WrongState("A running job cannot be deleted; cancel it first.")
            owner_id = job.owner_id
            session.execute(delete(Execution).where(Execution.job_id == job_id))
            dependents = settle_dependents(session.connection(), job_id, None, DB_NOW)
            if _write(session, delete(Job).where(_unchanged(job))):
                session.commit()
                sink.publish(JobDeleted(job_id, owner_id))
                _publish_all(sink, dependents)
                return
            session.rollback()
    raise WrongState("The job kept changing while it was being deleted; try again.")


def _publish_all(sink: EventSink, changed: list[tuple[int, int]]) -> None:
    for job_id, owner_id in changed:
        sink.publish(JobChanged(job_id, owner_id))


def _change(
    session: Session, user: User, job_id: int, decide: Decide, sink: EventSink,
    after_write: Callable[[Job], None] | None = None,
) -> Job:
    """Write `decide(job)`'s values to the job if it is still as `decide` saw it, then publish.

    `decide` raises (InvalidTransition, WrongState, ...) to refuse. A lost race (the job
    moved between the read and the write) rolls back and decides again on the new state.
    `after_write(job)` runs in the same transaction, with `job` still as it was read.
    """
    for _ in range(_RACE_ATTEMPTS):
        with write_transaction(session):
            job = get_job(session, user, job_id)
            values = decide(job)
            if _write(session, update(Job).where(_unchanged(job)).values(**values)):
                if after_write is not None:
                    after_write(job)
                session.commit()  # expires `job`: it reloads as committed on next access
                sink.publish(JobChanged(job.id, job.owner_id))
                return job
            session.rollback()
    raise WrongState("The job kept changing; try again.")


@contextmanager
def write_transaction(
    session: Session, after_reads: Literal["refresh", "keep"] = "refresh",
) -> Iterator[None]:
    """This call's own write transaction; a refusal raised inside rolls it back at once,
    releasing SQLite's write lock.

    "refresh" ends whatever the request read before (the commit expires it), so a job is
    decided on as it is now. "keep" is for a write that decides from nothing read before
    it (an insert): on PostgreSQL it joins the request's open transaction (READ COMMITTED:
    nothing to end), saving a commit and the reloads it would cause; SQLite must still end
    the read transaction to start a `BEGIN IMMEDIATE` one, but keeps the loaded objects.
    """
    if after_reads == "refresh":
        session.commit()
        session.connection(execution_options=IMMEDIATE)
    elif _is_sqlite(session):
        commit_keeping_loaded(session)
        session.connection(execution_options=IMMEDIATE)
    try:
        yield
    except BaseException:
        session.rollback()
        raise


def _is_sqlite(session: Session) -> bool:
    return session.get_bind(Job.__mapper__).dialect.name == "sqlite"


def _write(session: Session, statement: Any) -> bool:
    """Run a conditional UPDATE/DELETE of one job; True when it matched that job."""
    result = session.execute(statement, execution_options={"synchronize_session": False})
    return result.rowcount == 1


def _unchanged(job: Job) -> ColumnElement[bool]:
    """The job still in the state it was read in: same status and same lease (attempt)."""
    lease = (Job.lease_token.is_(None) if job.lease_token is None
             else Job.lease_token == job.lease_token)
    return (Job.id == job.id) & (Job.status == job.status) & lease


def past_deadline() -> ColumnElement[bool]:
    return Job.deadline.is_not(None) & (Job.deadline < db_now())


def _close_execution(session: Session, job: Job, error: str) -> None:
    """Close the running attempt's execution as cancelled (fenced by its lease token)."""
    session.execute(update(Execution).where(
        Execution.job_id == job.id, Execution.status == ExecutionStatus.RUNNING.value,
        Execution.lease_token == job.lease_token,
    ).values(
        status=ExecutionStatus.CANCELLED.value, finished_at=db_now(), error=error,
        duration_seconds=seconds_between(Execution.started_at, db_now()),
    ), execution_options={"synchronize_session": False})
