"""Changing schedules: create, update, pause, resume, run-now and delete (SPEC §12).

The API and the pages both call these. Input is checked here, once: the cron and time zone
(400 naming `cron` / `timezone`), and the job template with the same rules as a job's
create (its task and args against the task's schema, its priority against fair use), so a
fire time never meets a template that a create would refuse. `next_run_at` is computed here
whenever the cron, the time zone or `enabled` change, always from now: a paused schedule
resumes at its next fire time, never with the ones it missed.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ..database import IMMEDIATE
from ..jobs import fields as jobs
from ..jobs.errors import ValidationFailed
from ..jobs.fair_use import DEFAULT_RULES, FairUse, check_priority
from ..jobs.queries import MAX_ID
from ..jobs.service import create_job
from ..models import Job, Schedule, User
from ..scheduler.clock import utcnow
from ..scheduler.events import EventSink
from ..scheduler.limits import TIMEOUT_MAX
from ..scheduler.recurrence import (
    DEFAULT_TIMEZONE,
    CronError,
    Overlap,
    TimezoneError,
    check_cron,
    next_fire,
    parse_timezone,
)
from ..scheduler.registry import TaskRegistry

FIELDS = ("name", "cron", "timezone", "job", "enabled", "overlap")
# A job's create fields but run_at and deadline (deadline_seconds counts from each fire
# time); nor depends_on (a recurring job waits for no fixed jobs) or unique_key (overlap=skip
# says it for a schedule).
TEMPLATE_FIELDS = tuple(f for f in jobs.CREATE_FIELDS
                        if f not in ("run_at", "deadline", "depends_on", "unique_key"))
TEMPLATE_DEFAULTS = {k: v for k, v in jobs.DEFAULTS.items() if k in TEMPLATE_FIELDS}
DEADLINE_SECONDS_RANGE = (1, TIMEOUT_MAX * 366)  # up to a year after the fire time


class ScheduleNotFound(LookupError):
    """No such schedule, or not one the caller may see: the two look the same (404)."""

    def __init__(self, schedule_id: int) -> None:
        super().__init__(f"Schedule {schedule_id} not found.")


def visible_schedules(user: User) -> Any:
    """The schedules `user` may see, newest first: their own, or every one for an admin."""
    query = select(Schedule).order_by(Schedule.id.desc())
    return query if user.is_admin else query.where(Schedule.owner_id == user.id)


def get_schedule(session: Session, user: User, schedule_id: int) -> Schedule:
    found = None
    if 1 <= schedule_id <= MAX_ID:
        found = session.scalar(visible_schedules(user).where(Schedule.id == schedule_id))
    if found is None:
        raise ScheduleNotFound(schedule_id)
    return found


def list_schedules(session: Session, user: User) -> list[Schedule]:
    return list(session.scalars(visible_schedules(user)))


def create_schedule(session: Session, user: User, data: Mapping[str, Any],
                    registry: TaskRegistry, rules: FairUse = DEFAULT_RULES,
                    now: datetime | None = None) -> Schedule:
    """A new schedule owned by `user`; ValidationFailed naming every bad field at once."""
    values = _checked({"timezone": DEFAULT_TIMEZONE, "enabled": True,
                       "overlap": Overlap.SKIP.value, **data}, user, registry, rules,
                      required=("name", "cron", "job"))
    schedule = Schedule(owner_id=user.id, **values)
    schedule.next_run_at = _next_run(schedule, now or utcnow())
    with _writing(session):
        session.add(schedule)
        session.commit()
    return schedule


def update_schedule(session: Session, user: User, schedule_id: int,
                    changes: Mapping[str, Any], registry: TaskRegistry,
                    rules: FairUse = DEFAULT_RULES, now: datetime | None = None) -> Schedule:
    """Change some fields (`job` replaces the whole template); the next run follows."""

    def values(schedule: Schedule) -> dict[str, Any]:
        current = {"name": schedule.name, "cron": schedule.cron, "timezone": schedule.timezone}
        checked = _checked({**current, **changes}, user, registry, rules)
        return {key: value for key, value in checked.items() if key in changes}

    return _change(session, user, schedule_id, values, now)


def pause_schedule(session: Session, user: User, schedule_id: int) -> Schedule:
    """No fire time comes while paused; its jobs already made are left alone."""
    return _change(session, user, schedule_id, lambda _: {"enabled": False})


def resume_schedule(session: Session, user: User, schedule_id: int,
                    now: datetime | None = None) -> Schedule:
    """Fire again from the next fire time after now (the ones missed while paused never)."""
    return _change(session, user, schedule_id, lambda _: {"enabled": True}, now)


def run_now(session: Session, user: User, schedule_id: int, registry: TaskRegistry,
            sink: EventSink, rules: FairUse = DEFAULT_RULES) -> Job:
    """One job from the template now, created like any job (quota and all)."""
    schedule = get_schedule(session, user, schedule_id)
    template = dict(schedule.job)
    seconds = template.pop("deadline_seconds", None)
    now = utcnow()
    if seconds is not None:
        template["deadline"] = now + timedelta(seconds=seconds)
    return create_job(session, schedule.owner, template, registry, sink, rules,
                           schedule_id=schedule.id)


def delete_schedule(session: Session, user: User, schedule_id: int) -> None:
    """Delete the schedule; the jobs it made stay, no longer linked to it."""
    with _writing(session):
        schedule_id = get_schedule(session, user, schedule_id).id
        session.execute(delete(Schedule).where(Schedule.id == schedule_id))
        # After the delete has locked the schedule's row: a fire in progress has committed
        # its job by now, so this clears that one too.
        session.execute(update(Job).where(Job.schedule_id == schedule_id)
                        .values(schedule_id=None),
                        execution_options={"synchronize_session": False})
        session.commit()


def _change(session: Session, user: User, schedule_id: int,
            decide: Callable[[Schedule], Mapping[str, Any]],
            now: datetime | None = None) -> Schedule:
    """Write `decide(schedule)`'s values; a new cron, zone or `enabled` moves the next run."""
    with _writing(session):
        schedule = get_schedule(session, user, schedule_id)
        values = decide(schedule)
        for key, value in values.items():
            setattr(schedule, key, value)
        if {"cron", "timezone", "enabled"} & set(values):
            schedule.next_run_at = _next_run(schedule, now or utcnow())
        session.commit()
    return schedule


@contextmanager
def _writing(session: Session) -> Iterator[None]:
    """A write transaction of its own (BEGIN IMMEDIATE on SQLite, so a busy scheduler makes
    it wait rather than fail); a refusal raised inside rolls it back."""
    session.commit()
    session.connection(execution_options=IMMEDIATE)
    try:
        yield
    except BaseException:
        session.rollback()
        raise


def _next_run(schedule: Schedule, now: datetime) -> datetime | None:
    if not schedule.enabled:
        return None
    return next_fire(schedule.cron, schedule.timezone, now)


# -- input ------------------------------------------------------------------------------------


def _checked(data: Mapping[str, Any], user: User, registry: TaskRegistry, rules: FairUse,
             required: tuple[str, ...] = ()) -> dict[str, Any]:
    """The allowed fields of `data`, checked and normalised; every problem at once."""
    values, errors = jobs.checked_fields(data, FIELDS, _CLEANERS, required)
    if "job" in values:
        values["job"] = _template(values["job"], data.get("name"), user, registry, rules,
                                  errors)
    if errors:
        raise ValidationFailed(errors, "Invalid schedule.")
    return values


def _template(raw: Mapping[str, Any], name: Any, user: User, registry: TaskRegistry,
              rules: FairUse, errors: dict[str, str]) -> dict[str, Any]:
    """The job template checked like a create (task, args, priority); errors as `job.x`."""
    fields = dict(raw)
    seconds = fields.pop("deadline_seconds", None)
    if fields.get("name") is None and isinstance(name, str):
        fields["name"] = name  # a job is named after its schedule unless told otherwise
    try:
        values = jobs.clean_fields({**TEMPLATE_DEFAULTS, **fields}, TEMPLATE_FIELDS,
                                   required=("name",))
        check_priority(user, values["priority"], rules)
        task = jobs.task_for(registry, user, values["task"])
        values["args"] = jobs.checked_args(registry, task, values["args"])
        values["deadline_seconds"] = _deadline_seconds(seconds)
    except ValidationFailed as failed:
        errors.update({f"job.{key}": why for key, why in failed.errors.items()})
        return {}
    except ValueError as error:
        errors["job.deadline_seconds"] = str(error)
        return {}
    return values


def _deadline_seconds(value: Any) -> int | None:
    return None if value is None else jobs.int_between(*DEADLINE_SECONDS_RANGE)(value)


def _name(value: Any) -> str:
    """Checked like a job's name (one definition: jobs/service.py)."""
    try:
        return jobs.clean_fields({"name": value}, ("name",))["name"]
    except ValidationFailed as failed:
        raise ValueError(failed.errors["name"]) from None


def _cron(value: Any) -> str:
    try:
        return check_cron(value, utcnow())
    except CronError as error:
        raise ValueError(str(error)) from None


def _timezone(value: Any) -> str:
    try:
        return parse_timezone(value).key
    except TimezoneError as error:
        raise ValueError(str(error)) from None


def _job(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError("Must be a JSON object: the job each fire time makes.")
    return value


def _enabled(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("Must be true or false.")
    return value


def _overlap(value: Any) -> str:
    allowed = [o.value for o in Overlap]
    if value not in allowed:
        raise ValueError(f"Use one of {', '.join(allowed)}.")
    return str(value)


_CLEANERS: dict[str, Callable[[Any], Any]] = {
    "name": _name, "cron": _cron, "timezone": _timezone, "job": _job, "enabled": _enabled,
    "overlap": _overlap,
}
