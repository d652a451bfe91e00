"""The schedules' request and response models (SPEC §12), as schemas.py declares the jobs'."""
from __future__ import annotations

from flask_restx import Model, fields

from ..scheduler.limits import NAME_MAX
from ..scheduler.recurrence import Overlap
from .model_fields import (
    NullableDateTime,
    NullableInteger,
    NullableString,
    StrictModel,
    out,
)
from .schemas import STATUSES

OVERLAPS = [o.value for o in Overlap]
SCHEDULE_JOB = (
    "The job each fire time makes: a job's create fields (name — default the schedule's —, "
    "description, task, args, priority, max_attempts, timeout_seconds, concurrency_key, "
    "concurrency_limit) but run_at and deadline, plus deadline_seconds: its deadline, that "
    "many seconds after the fire time. Checked like a create; errors are named job.<field>."
)
CRON = ("5-field cron (minute hour day-of-month month day-of-week, Debian cron's syntax), "
        "e.g. */5 * * * *.")
TIMEZONE = "IANA time zone the cron is read in, e.g. Europe/Berlin; daylight saving applies."
OVERLAP = ("skip: a fire time is skipped while the schedule's previous job is pending or "
           "running; allow: it makes a job anyway.")


def _schedule_fields(required: bool) -> dict[str, fields.Raw]:
    return {
        "name": fields.String(required=required, min_length=1, max_length=NAME_MAX,
                              example="Nightly report"),
        "cron": fields.String(required=required, description=CRON, example="*/5 * * * *"),
        "timezone": fields.String(description=TIMEZONE, default="UTC", example="Europe/Berlin"),
        "job": fields.Raw(required=required, description=SCHEDULE_JOB,
                          example={"task": "sleep", "args": {"seconds": 5},
                                   "deadline_seconds": 600}),
        "enabled": fields.Boolean(default=True),
        "overlap": fields.String(enum=OVERLAPS, default="skip", description=OVERLAP),
    }


schedule_in = StrictModel("ScheduleIn", _schedule_fields(required=True), strict=True)
schedule_patch = StrictModel("SchedulePatch", _schedule_fields(required=False), strict=True)

schedule_out = Model("Schedule", {
    "id": out(fields.Integer),
    "name": out(fields.String),
    "cron": out(fields.String, description=CRON),
    "timezone": out(fields.String, description=TIMEZONE),
    "job": out(fields.Raw, description=SCHEDULE_JOB),
    "enabled": out(fields.Boolean),
    "overlap": out(fields.String, enum=OVERLAPS, description=OVERLAP),
    "next_run_at": out(NullableDateTime, description="The next fire time (null: paused, or "
                                                      "the cron fires no more)."),
    "last_run_at": out(NullableDateTime, description="When it last made a job."),
    "last_job_id": out(NullableInteger, description="The job it made last."),
    "last_job_status": out(NullableString, enum=STATUSES,
                            description="That job's status (null: none, or deleted)."),
    "owner": out(fields.String, description="The owner's username."),
    "created_at": out(fields.DateTime),
    "updated_at": out(fields.DateTime),
})

schedule_list = Model("ScheduleList", {
    "items": out(fields.List, cls_or_instance=fields.Nested(schedule_out)),
})

schedule_preview = Model("SchedulePreview", {
    "cron": out(fields.String, description="The expression as it would be stored."),
    "timezone": out(fields.String),
    "next": out(fields.List, cls_or_instance=fields.DateTime,
                 description="The next 5 fire times, in UTC."),
    "local": out(fields.List, cls_or_instance=fields.String,
                  description="The same instants in the schedule's time zone, for people."),
})

SCHEDULE_MODELS = (schedule_in, schedule_patch, schedule_out, schedule_list, schedule_preview)
