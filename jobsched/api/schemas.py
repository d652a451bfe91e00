"""The API's request and response models, declared once: they validate input and write docs.

Input models are strict: a field they do not name (unknown, or read-only such as `status`)
is a 400, never silently dropped. Response models describe the dicts that
jobsched.jobs.serialize builds (a test keeps the two field lists equal).
The schedules' models are in schedule_schemas.py; the field types they share, in
model_fields.py.
"""
from __future__ import annotations

from collections.abc import Callable

from flask_restx import Model, Namespace, fields

from ..jobs.batch import MAX_BATCH
from ..jobs.bulk import ACTIONS as BULK_ACTIONS
from ..jobs.bulk import MAX_IDS as MAX_BULK_IDS
from ..jobs.depends import MAX_DEPENDS_ON
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
from ..scheduler.states import ExecutionStatus, JobStatus, Priority
from .model_fields import (
    AnyJson,
    NullableBoolean,
    NullableDateTime,
    NullableFloat,
    NullableInteger,
    NullableString,
    StrictModel,
    out,
    page_of,
)

PRIORITIES = [p.value for p in Priority]
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


job_out = Model("Job", {
    "id": out(fields.Integer),
    "name": out(fields.String),
    "description": out(fields.String),
    "task": out(fields.String),
    "args": out(fields.Raw),
    "priority": out(fields.String, enum=PRIORITIES),
    "effective_priority": out(
        fields.String, enum=PRIORITIES,
        description="The class the job is ordered in now: its priority, or, for a pending "
                    "job waiting longer than JOBSCHED_AGING_SECONDS, one class higher (two "
                    "after twice as long). A job not pending shows its own priority."),
    "deadline": out(NullableDateTime),
    "run_at": out(NullableDateTime),
    "status": out(fields.String, enum=STATUSES),
    "attempts": out(fields.Integer, description="Attempts started so far."),
    "max_attempts": out(fields.Integer),
    "timeout_seconds": out(fields.Integer),
    "concurrency_key": out(NullableString, min_length=1, max_length=CONCURRENCY_KEY_MAX,
                            description=CONCURRENCY_KEY),
    "concurrency_limit": out(fields.Integer, min=CONCURRENCY_LIMIT_MIN,
                              max=CONCURRENCY_LIMIT_MAX, description=CONCURRENCY_LIMIT),
    "unique_key": out(NullableString, min_length=1, max_length=UNIQUE_KEY_MAX,
                       description=UNIQUE_KEY),
    "depends_on": fields.List(fields.Integer, required=True, readonly=True,
                              description=DEPENDS_ON),
    "progress": out(NullableInteger, min=PROGRESS_MIN, max=PROGRESS_MAX),
    "result": out(AnyJson, description="The task's return value."),
    "error": out(NullableString, description="The last failure's message."),
    "owner": out(fields.String, description="The owner's username."),
    "created_at": out(fields.DateTime),
    "updated_at": out(fields.DateTime),
    "started_at": out(NullableDateTime),
    "finished_at": out(NullableDateTime),
    "deadline_missed": out(fields.Boolean, description="Finished (or still unfinished) "
                                                        "after its deadline."),
    "schedule_id": out(NullableInteger, description="The schedule that made it (null: none, "
                                                     "or the schedule was deleted)."),
})


job_page = page_of("JobPage", job_out)

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
    "matched": out(fields.Integer, description="Visible jobs named or matched."),
    "changed": out(fields.Integer, description="Of them, those the action changed."),
    "skipped": out(fields.Integer, description="Of them, those in a state it does not "
                                                "apply to (or, for a retry, whose unique key "
                                                "is held or whose dependency failed)."),
})
batch_out = Model("JobBatch", {
    "items": fields.List(fields.Nested(job_out), required=True, readonly=True,
                         description="The jobs created, in the order sent."),
})

execution_out = Model("Execution", {
    "id": out(fields.Integer),
    "attempt": out(fields.Integer),
    "status": out(fields.String, enum=EXECUTION_STATUSES),
    "node": out(fields.String, description="The scheduler that ran it (--node)."),
    "started_at": out(fields.DateTime),
    "finished_at": out(NullableDateTime),
    "duration_seconds": out(NullableFloat),
    "output": out(fields.String, description="What the task logged (the last 64 KiB)."),
    "error": out(NullableString, description="Message and traceback."),
})

execution_list = page_of("ExecutionList", execution_out)

task_out = Model("Task", {
    "name": out(fields.String),
    "description": out(fields.String),
    "args_schema": out(fields.Raw, description="JSON Schema of the task's args."),
    "admin_only": out(fields.Boolean),
})

task_list = Model("TaskList", {"items": out(fields.List, cls_or_instance=fields.Nested(task_out))})

status_counts = Model("StatusCounts", {s: out(fields.Integer) for s in STATUSES})
priority_counts = Model("PriorityCounts", {p: out(fields.Integer) for p in PRIORITIES})

stats_out = Model("Stats", {
    "total": out(fields.Integer),
    "by_status": out(fields.Nested, model=status_counts),
    "by_priority": out(fields.Nested, model=priority_counts),
    "running": out(fields.Integer,
                    description="Running jobs among those you may see (all, for an admin)."),
    "running_all": out(fields.Integer, description=(
        "Jobs running now system-wide, whoever owns them (never who): the slots in use "
        "out of max_concurrent. For an admin it equals running.")),
    "queued": out(fields.Integer, description="Pending jobs eligible to run now."),
    "max_concurrent": out(fields.Integer, description="Jobs that may run at once, system-wide."),
    "avg_wait_seconds": out(NullableFloat, description="Creation to start, started jobs."),
    "avg_run_seconds": out(NullableFloat, description="Start to finish, finished jobs."),
    "deadline_missed": out(fields.Integer),
})

token_in = StrictModel("TokenRequest", {
    "username": fields.String(required=True, example="alice"),
    "password": fields.String(required=True, example="correct-horse"),
    "name": fields.String(max_length=100, description="A label for the account page."),
}, strict=True)

token_out = Model("Token", {
    "token": out(fields.String, description="Send as 'Authorization: Bearer <token>'."),
})

token_item = Model("TokenInfo", {
    "id": out(fields.Integer),
    "name": out(fields.String, description="The label given when it was made."),
    "created_at": out(fields.DateTime),
    "last_used_at": out(NullableDateTime, description="To the minute; null: never used."),
})

token_list = Model("TokenList", {
    "items": out(fields.List, cls_or_instance=fields.Nested(token_item)),
})

error_out = Model("Error", {
    "message": out(fields.String),
    "errors": out(fields.Raw, description="Field name -> why it was refused.",
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
    "max_running": out(NullableInteger, description=LIMITS["max_running"]),
    "max_pending": out(NullableInteger, description=LIMITS["max_pending"]),
    "may_use_high": out(NullableBoolean, description=LIMITS["may_use_high"]),
})

MODELS = (
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
