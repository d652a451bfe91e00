"""A job's fields on the way in (SPEC §4, §6): which a user may set, their defaults, and the
checks that turn input into a row; every problem reported at once.

The service (service.py), the batch (batch.py) and the schedules' job templates all take
their input through here.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from ..models import User
from ..scheduler.limits import (
    ATTEMPTS_RANGE,
    CONCURRENCY_KEY_MAX,
    CONCURRENCY_LIMIT_RANGE,
    DEFAULT_CONCURRENCY_LIMIT,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_TIMEOUT_SECONDS,
    MAX_ARGS_BYTES,
    MAX_DESCRIPTION,
    MAX_JSON_DEPTH,
    NAME_MAX,
    TIMEOUT_RANGE,
    UNIQUE_KEY_MAX,
    nests_deeper_than,
)
from ..scheduler.registry import Task, TaskRegistry, UnknownTask
from ..scheduler.states import JobStatus, Priority
from ..scheduler.storable import storable_problem
from .depends import clean_depends_on
from .errors import Forbidden, ValidationFailed
from .fair_use import FairUse, check_priority
from .serialize import parse_datetime

# What a user may set (SPEC §6): everything else on a job belongs to the scheduler.
EDITABLE_FIELDS = (
    "name", "description", "args", "priority", "deadline", "run_at", "max_attempts",
    "timeout_seconds", "concurrency_key", "concurrency_limit", "depends_on",
)
CREATE_FIELDS = ("task", "unique_key", *EDITABLE_FIELDS)
DEFAULTS: dict[str, Any] = {
    "description": "", "task": "sleep", "args": {}, "priority": Priority.MEDIUM.value,
    "deadline": None, "run_at": None, "max_attempts": DEFAULT_MAX_ATTEMPTS,
    "timeout_seconds": DEFAULT_TIMEOUT_SECONDS, "concurrency_key": None,
    "concurrency_limit": DEFAULT_CONCURRENCY_LIMIT, "unique_key": None, "depends_on": [],
}


def new_job_row(
    user: User, data: Mapping[str, Any], registry: TaskRegistry, rules: FairUse,
) -> tuple[dict[str, Any], list[int]]:
    """The jobs row a create of `data` stores, and the ids it depends on; ValidationFailed
    or Forbidden (a high priority the rules refuse, a task the user may not run)."""
    values = clean_fields({**DEFAULTS, **data}, CREATE_FIELDS, required=("name",))
    check_priority(user, values["priority"], rules)
    task = task_for(registry, user, values["task"])
    values["args"] = checked_args(registry, task, values["args"])
    depends_on = values.pop("depends_on")
    return {"owner_id": user.id, "status": JobStatus.PENDING.value, **values}, depends_on


def task_for(registry: TaskRegistry, user: User, name: str) -> Task:
    """The registered task `name` if `user` may run it (unknown: 400; admin-only: 403)."""
    try:
        task = registry.get(name)
    except UnknownTask:
        raise ValidationFailed({"task": f"Unknown task {name!r}."}, "Invalid job.") from None
    if task.admin_only and not user.is_admin:
        raise Forbidden(f"Only an administrator may run {name!r} jobs.")
    return task


def checked_args(registry: TaskRegistry, task: Task, args: dict[str, Any]) -> dict[str, Any]:
    """`args` validated against the task's schema (field-level errors), defaults filled in."""
    errors = registry.validate_args(task.name, args)
    if errors:
        fields = {(k if k == "args" else f"args.{k}"): v for k, v in errors.items()}
        raise ValidationFailed(fields, f"Invalid args for task {task.name!r}.")
    return registry.with_defaults(task.name, args)


def clean_fields(
    data: Mapping[str, Any], allowed: tuple[str, ...], required: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Allowed fields of `data`, checked and normalised; every problem reported at once."""
    cleaned, errors = checked_fields(data, allowed, _CLEANERS, required)
    if errors:
        raise ValidationFailed(errors, "Invalid job.")
    return cleaned


def checked_fields(
    data: Mapping[str, Any], allowed: tuple[str, ...],
    cleaners: Mapping[str, Callable[[Any], Any]], required: tuple[str, ...] = (),
) -> tuple[dict[str, Any], dict[str, str]]:
    """The allowed fields of `data` as `cleaners` make them, and the problems found (a field
    not allowed, a required one missing, a value a cleaner refused), all at once."""
    errors = {key: "Unknown or read-only field." for key in data if key not in allowed}
    errors.update({key: "Required." for key in required if data.get(key) is None})
    cleaned: dict[str, Any] = {}
    for key in allowed:
        if key in data and key not in errors:
            try:
                cleaned[key] = cleaners[key](data[key])
            except ValueError as error:
                errors[key] = str(error)
    return cleaned, errors


def _name(value: Any) -> str:
    name = _text(value).strip()
    if not 1 <= len(name) <= NAME_MAX:
        raise ValueError(f"Use 1–{NAME_MAX} characters.")
    return name


def _description(value: Any) -> str:
    description = _text(value)
    if len(description) > MAX_DESCRIPTION:
        raise ValueError(f"Use at most {MAX_DESCRIPTION:,} characters.")
    return description


def _key(longest: int) -> Callable[[Any], str | None]:
    """A key stripped like a name; null means none (and clears one on update). Blank text
    is refused rather than read as null, as a blank name or deadline is (SPEC §10, §12)."""

    def clean(value: Any) -> str | None:
        if value is None:
            return None
        key = _text(value).strip()
        if not 1 <= len(key) <= longest:
            raise ValueError(f"Use 1–{longest} characters, or null for no key.")
        return key

    return clean


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("Must be a string.")
    problem = storable_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _task_name(value: Any) -> str:
    return _text(value).strip()


def _args(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError("Must be a JSON object.")
    if nests_deeper_than(value):  # first: the checks after it walk or serialise the value
        raise ValueError(f"Nest at most {MAX_JSON_DEPTH} levels deep.")
    problem = storable_problem(value)
    if problem:
        raise ValueError(problem)
    if len(compact_json(value)) > MAX_ARGS_BYTES:
        raise ValueError(f"Use at most {MAX_ARGS_BYTES // 1024} KiB (as compact JSON).")
    return value


def compact_json(value: Any) -> bytes:
    """`value` as the fewest bytes of UTF-8 JSON: what the args size limit measures."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _priority(value: Any) -> str:
    allowed = [p.value for p in Priority]
    if value not in allowed:
        raise ValueError(f"Use one of {', '.join(allowed)}.")
    return str(value)


def int_between(low: int, high: int) -> Callable[[Any], int]:
    def clean(value: Any) -> int:
        integral = isinstance(value, float) and value.is_integer()
        if isinstance(value, bool) or not (isinstance(value, int) or integral):
            raise ValueError("Must be an integer.")
        if not low <= value <= high:
            raise ValueError(f"Must be between {low} and {high}.")
        return int(value)

    return clean


_CLEANERS: dict[str, Callable[[Any], Any]] = {
    "name": _name,
    "description": _description,
    "task": _task_name,
    "args": _args,
    "priority": _priority,
    "deadline": parse_datetime,
    "run_at": parse_datetime,
    "max_attempts": int_between(*ATTEMPTS_RANGE),
    "timeout_seconds": int_between(*TIMEOUT_RANGE),
    "concurrency_key": _key(CONCURRENCY_KEY_MAX),
    "unique_key": _key(UNIQUE_KEY_MAX),
    "depends_on": clean_depends_on,
    "concurrency_limit": int_between(*CONCURRENCY_LIMIT_RANGE),
}
