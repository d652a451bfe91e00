"""The API's request and response models, declared once: they validate input and write docs.

Input models are strict: a field they do not name (unknown, or read-only such as `status`)
is a 400, never silently dropped. Response models describe the dicts that
jobsched.jobs.serialize builds (a test keeps the two field lists equal).
Swagger 2.0 has no `null` type, so a field that may be null carries `x-nullable`.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_restx import Model, Namespace, fields
from jsonschema import Draft202012Validator

from ..jobs.batch import MAX_BATCH
from ..jobs.bulk import ACTIONS as BULK_ACTIONS
from ..jobs.bulk import MAX_IDS as MAX_BULK_IDS
from ..jobs.depends import MAX_DEPENDS_ON
from ..jobs.errors import ValidationFailed
from ..scheduler.limits import (
    ATTEMPTS_MAX,
    ATTEMPTS_MIN,
    CONCURRENCY_KEY_MAX,
    CONCURRENCY_LIMIT_MAX,
    CONCURRENCY_LIMIT_MIN,
    DEFAULT_CONCURRENCY_LIMIT,
    MAX_PENDING_PER_USER_RANGE,
    MAX_RUNNING_PER_USER_RANGE,
    NAME_MAX,
    PROGRESS_MAX,
    PROGRESS_MIN,
    TIMEOUT_MAX,
    TIMEOUT_MIN,
    UNIQUE_KEY_MAX,
)
from ..scheduler.recurrence import Overlap
from ..scheduler.states import ExecutionStatus, JobStatus, Priority

PRIORITIES = [p.value for p in Priority]
OVERLAPS = [o.value for o in Overlap]
STATUSES = [s.value for s in JobStatus]
EXECUTION_STATUSES = [s.value for s in ExecutionStatus]
TIMESTAMP = "ISO-8601 date and time; without an offset it means UTC. Answers always carry one."
CONCURRENCY_KEY = (
    f"At most concurrency_limit of the owner's jobs with this key run at once; keys are per "
    f"owner. 1–{CONCURRENCY_KEY_MAX} characters, surrounding whitespace removed. null (the "
    f"default) means no key, and in a change clears it; an empty or blank key is refused (400)."
)
DEPENDS_ON = (
    f"Ids of up to {MAX_DEPENDS_ON} jobs you can see that must complete before this one may "
    f"run (SPEC §12; default none). When one of them fails, is cancelled or is deleted, this "
    f"job is cancelled, its error naming that job, and so on down the chain. A change "
    f"replaces the list; a cycle, an unknown id or a job that failed or was cancelled is 400."
)
UNIQUE_KEY = (
    f"While a job of yours with this key is pending or running, another create with it "
    f"answers 409 with `existing_id` and stores nothing (SPEC §12). 1–{UNIQUE_KEY_MAX} "
    f"characters, surrounding whitespace removed; null (the default): none. Set at creation."
)
CONCURRENCY_LIMIT = (
    f"How many of the owner's jobs with this job's concurrency_key may run at once "
    f"({CONCURRENCY_LIMIT_MIN}–{CONCURRENCY_LIMIT_MAX}, default {DEFAULT_CONCURRENCY_LIMIT}); "
    f"without a key it has no effect."
)


class _Nullable:
    """Mixin: the field may be null (Swagger 2.0 writes that as `x-nullable`)."""

    def schema(self) -> dict[str, Any]:
        return {**super().schema(), "x-nullable": True}  # type: ignore[misc]


class NullableString(_Nullable, fields.String):
    pass


class NullableInteger(_Nullable, fields.Integer):
    pass


class NullableFloat(_Nullable, fields.Float):
    pass


class NullableBoolean(_Nullable, fields.Boolean):
    pass


class NullableDateTime(_Nullable, fields.DateTime):
    pass


class AnyJson(_Nullable, fields.Raw):
    """Any JSON value at all (a task's result): no type constraint."""

    __schema_type__ = None


class StrictModel(Model):
    """A strict input model whose validation names each offending field (SPEC's errors)."""

    def validate(self, data: Any, resolver: Any = None, format_checker: Any = None) -> None:
        validator = Draft202012Validator(_admitting_null(self.__schema__))
        errors: dict[str, str] = {}
        for error in validator.iter_errors(data):
            for field, message in _field_messages(error, data):
                errors.setdefault(field, message)
        if errors:
            raise ValidationFailed(errors, "Input payload validation failed.")


def _admitting_null(schema: dict[str, Any]) -> dict[str, Any]:
    """The model's schema as JSON Schema proper: `x-nullable` properties also accept null."""
    properties = {
        name: {**prop, "type": [prop["type"], "null"]} if prop.get("x-nullable") else prop
        for name, prop in schema.get("properties", {}).items()
    }
    return {**schema, "properties": properties}


def _field_messages(error: Any, data: Any) -> list[tuple[str, str]]:
    """(field, why) pairs for one schema error; unknown fields are named one by one."""
    if error.validator == "additionalProperties" and isinstance(data, dict):
        known = error.schema.get("properties", {})
        return [(key, "Unknown or read-only field.") for key in data if key not in known]
    if error.validator == "required":
        return [(str(missing), "Required.") for missing in error.validator_value
                if isinstance(data, dict) and missing not in data]
    path = ".".join(str(part) for part in error.absolute_path)
    return [(path or "body", _message(error))]


def _message(error: Any) -> str:
    if error.validator == "type" and not error.absolute_path:
        return "Send a JSON object."
    return error.message[:300]


def _editable(name_required: bool) -> dict[str, fields.Raw]:
    """The fields a user sets on a job (SPEC §6), shared by create and update."""
    return {
        "name": fields.String(required=name_required, min_length=1, max_length=NAME_MAX,
                              example="Nightly report"),
        "description": fields.String(example=""),
        "args": fields.Raw(description="Arguments, checked against the task's args_schema "
                                       "(GET /jobs/api/tasks/).", example={"seconds": 5}),
        "priority": fields.String(enum=PRIORITIES),
        "deadline": NullableDateTime(description=TIMESTAMP),
        "run_at": NullableDateTime(description="Not started before this time. " + TIMESTAMP),
        "max_attempts": fields.Integer(min=ATTEMPTS_MIN, max=ATTEMPTS_MAX),
        "timeout_seconds": fields.Integer(min=TIMEOUT_MIN, max=TIMEOUT_MAX),
        "concurrency_key": NullableString(min_length=1, max_length=CONCURRENCY_KEY_MAX,
                                          description=CONCURRENCY_KEY, example="deploy-prod"),
        "concurrency_limit": fields.Integer(min=CONCURRENCY_LIMIT_MIN, max=CONCURRENCY_LIMIT_MAX,
                                            default=DEFAULT_CONCURRENCY_LIMIT,
                                            description=CONCURRENCY_LIMIT),
        # At most MAX_DEPENDS_ON, said by the service: a schema error would echo the list.
        "depends_on": fields.List(fields.Integer(min=1), description=DEPENDS_ON, example=[]),
    }


job_in = StrictModel("JobIn", {
    "task": fields.String(description="A registered task's name.", default="sleep",
                          example="sleep"),
    "unique_key": NullableString(min_length=1, max_length=UNIQUE_KEY_MAX,
                                 description=UNIQUE_KEY, example="report-2030-01-31"),
    **_editable(name_required=True),
}, strict=True)

job_patch = StrictModel("JobPatch", _editable(name_required=False), strict=True)


def _out(field: type[fields.Raw], **kwargs: Any) -> fields.Raw:
    """A response field: always present, never written by clients."""
    return field(required=True, readonly=True, **kwargs)


job_out = Model("Job", {
    "id": _out(fields.Integer),
    "name": _out(fields.String),
    "description": _out(fields.String),
    "task": _out(fields.String),
    "args": _out(fields.Raw),
    "priority": _out(fields.String, enum=PRIORITIES),
    "effective_priority": _out(
        fields.String, enum=PRIORITIES,
        description="The class the job is ordered in now: its priority, or, for a pending "
                    "job waiting longer than JOBSCHED_AGING_SECONDS, one class higher (two "
                    "after twice as long). A job not pending shows its own priority."),
    "deadline": _out(NullableDateTime),
    "run_at": _out(NullableDateTime),
    "status": _out(fields.String, enum=STATUSES),
    "attempts": _out(fields.Integer, description="Attempts started so far."),
    "max_attempts": _out(fields.Integer),
    "timeout_seconds": _out(fields.Integer),
    "concurrency_key": _out(NullableString, min_length=1, max_length=CONCURRENCY_KEY_MAX,
                            description=CONCURRENCY_KEY),
    "concurrency_limit": _out(fields.Integer, min=CONCURRENCY_LIMIT_MIN,
                              max=CONCURRENCY_LIMIT_MAX, description=CONCURRENCY_LIMIT),
    "unique_key": _out(NullableString, min_length=1, max_length=UNIQUE_KEY_MAX,
                       description=UNIQUE_KEY),
    "depends_on": fields.List(fields.Integer, required=True, readonly=True,
                              description=DEPENDS_ON),
    "progress": _out(NullableInteger, min=PROGRESS_MIN, max=PROGRESS_MAX),
    "result": _out(AnyJson, description="The task's return value."),
    "error": _out(NullableString, description="The last failure's message."),
    "owner": _out(fields.String, description="The owner's username."),
    "created_at": _out(fields.DateTime),
    "updated_at": _out(fields.DateTime),
    "started_at": _out(NullableDateTime),
    "finished_at": _out(NullableDateTime),
    "deadline_missed": _out(fields.Boolean, description="Finished (or still unfinished) "
                                                        "after its deadline."),
    "schedule_id": _out(NullableInteger, description="The schedule that made it (null: none, "
                                                     "or the schedule was deleted)."),
})


def _page_of(name: str, item: Model) -> Model:
    """One page of a paged list: its items, how many there are in all, and where it is."""
    return Model(name, {
        "items": _out(fields.List, cls_or_instance=fields.Nested(item)),
        "total": _out(fields.Integer),
        "page": _out(fields.Integer),
        "per_page": _out(fields.Integer),
    })


job_page = _page_of("JobPage", job_out)

# SPEC §13. Documented, not validated by the schema: the service checks each item and keys
# its errors by index (jobs[3].args.seconds), which the schema's errors could not.
batch_in = Model("JobBatchIn", {
    "jobs": fields.List(fields.Nested(job_in), required=True, min_items=1, max_items=MAX_BATCH,
                        description=f"1–{MAX_BATCH} jobs, each as POST /jobs/api/jobs/ takes "
                                    "it; all are created, or none."),
})
bulk_in = Model("JobBulkIn", {
    "action": fields.String(required=True, enum=list(BULK_ACTIONS)),
    "ids": fields.List(fields.Integer(min=1), max_items=MAX_BULK_IDS,
                       description="The jobs to act on (yours, or any for an admin); or:"),
    "filter": fields.Raw(description="The list's filters as an object: status and priority "
                                     "(a string or a list), task, q, owner (admins).",
                         example={"status": ["failed"], "task": "sleep"}),
})
bulk_out = Model("JobBulk", {
    "matched": _out(fields.Integer, description="Visible jobs named or matched."),
    "changed": _out(fields.Integer, description="Of them, those the action changed."),
    "skipped": _out(fields.Integer, description="Of them, those in a state it does not "
                                                "apply to (or, for a retry, whose unique key "
                                                "is held or whose dependency failed)."),
})
batch_out = Model("JobBatch", {
    "items": fields.List(fields.Nested(job_out), required=True, readonly=True,
                         description="The jobs created, in the order sent."),
})

execution_out = Model("Execution", {
    "id": _out(fields.Integer),
    "attempt": _out(fields.Integer),
    "status": _out(fields.String, enum=EXECUTION_STATUSES),
    "node": _out(fields.String, description="The scheduler that ran it (--node)."),
    "started_at": _out(fields.DateTime),
    "finished_at": _out(NullableDateTime),
    "duration_seconds": _out(NullableFloat),
    "output": _out(fields.String, description="What the task logged (the last 64 KiB)."),
    "error": _out(NullableString, description="Message and traceback."),
})

execution_list = _page_of("ExecutionList", execution_out)

task_out = Model("Task", {
    "name": _out(fields.String),
    "description": _out(fields.String),
    "args_schema": _out(fields.Raw, description="JSON Schema of the task's args."),
    "admin_only": _out(fields.Boolean),
})

task_list = Model("TaskList", {"items": _out(fields.List, cls_or_instance=fields.Nested(task_out))})

status_counts = Model("StatusCounts", {s: _out(fields.Integer) for s in STATUSES})
priority_counts = Model("PriorityCounts", {p: _out(fields.Integer) for p in PRIORITIES})

stats_out = Model("Stats", {
    "total": _out(fields.Integer),
    "by_status": _out(fields.Nested, model=status_counts),
    "by_priority": _out(fields.Nested, model=priority_counts),
    "running": _out(fields.Integer,
                    description="Running jobs among those you may see (all, for an admin)."),
    "running_all": _out(fields.Integer, description=(
        "Jobs running now system-wide, whoever owns them (never who): the slots in use "
        "out of max_concurrent. For an admin it equals running.")),
    "queued": _out(fields.Integer, description="Pending jobs eligible to run now."),
    "max_concurrent": _out(fields.Integer, description="Jobs that may run at once, system-wide."),
    "avg_wait_seconds": _out(NullableFloat, description="Creation to start, started jobs."),
    "avg_run_seconds": _out(NullableFloat, description="Start to finish, finished jobs."),
    "deadline_missed": _out(fields.Integer),
})

token_in = StrictModel("TokenRequest", {
    "username": fields.String(required=True, example="alice"),
    "password": fields.String(required=True, example="correct-horse"),
    "name": fields.String(max_length=100, description="A label for the account page."),
}, strict=True)

token_out = Model("Token", {
    "token": _out(fields.String, description="Send as 'Authorization: Bearer <token>'."),
})

token_item = Model("TokenInfo", {
    "id": _out(fields.Integer),
    "name": _out(fields.String, description="The label given when it was made."),
    "created_at": _out(fields.DateTime),
    "last_used_at": _out(NullableDateTime, description="To the minute; null: never used."),
})

token_list = Model("TokenList", {
    "items": _out(fields.List, cls_or_instance=fields.Nested(token_item)),
})

error_out = Model("Error", {
    "message": _out(fields.String),
    "errors": _out(fields.Raw, description="Field name -> why it was refused.",
                   example={"name": "Required."}),
})

LIMITS = {
    "max_running": f"At most this many of the user's jobs run at once "
                   f"({MAX_RUNNING_PER_USER_RANGE[0]}–{MAX_RUNNING_PER_USER_RANGE[1]}); null: "
                   f"JOBSCHED_MAX_RUNNING_PER_USER. Takes effect at the next claim.",
    "max_pending": f"At most this many of the user's jobs wait in the queue "
                   f"({MAX_PENDING_PER_USER_RANGE[0]}–{MAX_PENDING_PER_USER_RANGE[1]:,}); null: "
                   f"JOBSCHED_MAX_PENDING_PER_USER.",
    "may_use_high": "Whether the user may submit high-priority jobs; null: "
                    "JOBSCHED_HIGH_PRIORITY (admins always may).",
}

limits_in = StrictModel("UserLimitsIn", {
    "max_running": NullableInteger(min=MAX_RUNNING_PER_USER_RANGE[0],
                                   max=MAX_RUNNING_PER_USER_RANGE[1],
                                   description=LIMITS["max_running"]),
    "max_pending": NullableInteger(min=MAX_PENDING_PER_USER_RANGE[0],
                                   max=MAX_PENDING_PER_USER_RANGE[1],
                                   description=LIMITS["max_pending"]),
    "may_use_high": NullableBoolean(description=LIMITS["may_use_high"]),
}, strict=True)

limits_out = Model("UserLimits", {
    "max_running": _out(NullableInteger, description=LIMITS["max_running"]),
    "max_pending": _out(NullableInteger, description=LIMITS["max_pending"]),
    "may_use_high": _out(NullableBoolean, description=LIMITS["may_use_high"]),
})

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
    "id": _out(fields.Integer),
    "name": _out(fields.String),
    "cron": _out(fields.String, description=CRON),
    "timezone": _out(fields.String, description=TIMEZONE),
    "job": _out(fields.Raw, description=SCHEDULE_JOB),
    "enabled": _out(fields.Boolean),
    "overlap": _out(fields.String, enum=OVERLAPS, description=OVERLAP),
    "next_run_at": _out(NullableDateTime, description="The next fire time (null: paused, or "
                                                      "the cron fires no more)."),
    "last_run_at": _out(NullableDateTime, description="When it last made a job."),
    "last_job_id": _out(NullableInteger, description="The job it made last."),
    "last_job_status": _out(NullableString, enum=STATUSES,
                            description="That job's status (null: none, or deleted)."),
    "owner": _out(fields.String, description="The owner's username."),
    "created_at": _out(fields.DateTime),
    "updated_at": _out(fields.DateTime),
})

schedule_list = Model("ScheduleList", {
    "items": _out(fields.List, cls_or_instance=fields.Nested(schedule_out)),
})

schedule_preview = Model("SchedulePreview", {
    "cron": _out(fields.String, description="The expression as it would be stored."),
    "timezone": _out(fields.String),
    "next": _out(fields.List, cls_or_instance=fields.DateTime,
                 description="The next 5 fire times, in UTC."),
    "local": _out(fields.List, cls_or_instance=fields.String,
                  description="The same instants in the schedule's time zone, for people."),
})

MODELS = (
    schedule_in, schedule_patch, schedule_out, schedule_list, schedule_preview,
    limits_in, limits_out,
    job_in, job_patch, job_out, job_page, batch_in, batch_out, bulk_in, bulk_out,
    execution_out, execution_list,
    task_out, task_list,
    status_counts, priority_counts, stats_out, token_in, token_out, token_item, token_list,
    error_out,
)

ERROR_DESCRIPTIONS = {
    400: "Bad input (the errors name the fields), or a missing X-CSRFToken header on a "
         "cookie-authenticated change.",
    401: "Not authenticated: log in, or send 'Authorization: Bearer <token>'.",
    403: "Forbidden, e.g. an admin-only task, a high priority reserved for admins "
         "(errors.priority), or a page of admins only.",
    404: "No such job or schedule (or not yours), or no such user.",
    409: "The job's state does not allow this.",
    413: "Body over 1 MiB.",
    415: "The body is not JSON (Content-Type must be application/json).",
    429: "Too many failed logins (wait a minute), too many of the owner's jobs pending "
         "(errors.quota), or too many submissions (errors.rate; Retry-After says when).",
}


def error_responses(ns: Namespace, *codes: int) -> Callable[[Callable], Callable]:
    """Document each of `codes` as an error response of the decorated operation."""

    def decorate(func: Callable) -> Callable:
        for code in codes:
            func = ns.response(code, ERROR_DESCRIPTIONS[code], error_out)(func)
        return func

    return decorate
