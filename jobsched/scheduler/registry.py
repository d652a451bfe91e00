"""Tasks are registered under a stable name with a declared JSON Schema for their args.

The schema is the single description of a task's arguments: the API validates with it, the
form renders fields from it, and `GET /jobs/api/tasks/` publishes it.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from jsonschema import Draft202012Validator

TaskFunc = Callable[..., Any]


class TaskContext(Protocol):
    """What a running task may use: report progress, log a line, see a cancel request."""

    def progress(self, percent: int) -> None: ...

    def log(self, line: str) -> None: ...

    def cancelled(self) -> bool: ...

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True as soon as the attempt is cancelled or timed out."""


@dataclass(frozen=True, slots=True)
class Task:
    """A registered handler. The executor calls `func(ctx, **args)` with the job's args
    (schema defaults filled in), so a task reads like `def resize(ctx, width, height=0)`."""

    name: str
    func: TaskFunc = field(repr=False)
    schema: dict[str, Any]
    description: str = ""
    admin_only: bool = False
    # "io": runs on a green thread/thread and must cooperate (ctx.wait); "cpu": a real thread.
    kind: str = "io"


class UnknownTask(KeyError):
    """No task is registered under that name."""


class TaskRegistry:
    def __init__(self) -> None:
        self._tasks: dict[str, Task] = {}
        self._validators: dict[str, Draft202012Validator] = {}

    def add(self, task: Task) -> Task:
        Draft202012Validator.check_schema(task.schema)
        self._tasks[task.name] = task
        self._validators[task.name] = Draft202012Validator(task.schema)
        return task

    def task(
        self, name: str, *, schema: dict[str, Any] | None = None, description: str = "",
        admin_only: bool = False, kind: str = "io",
    ) -> Callable[[TaskFunc], TaskFunc]:
        """Decorator: `@registry.task("resize", schema={...})` registers the function."""

        def register(func: TaskFunc) -> TaskFunc:
            doc = description or (func.__doc__ or "").strip().splitlines()[0:1]
            text = doc if isinstance(doc, str) else (doc[0] if doc else "")
            self.add(Task(name, func, schema or {"type": "object"}, text, admin_only, kind))
            return func

        return register

    def get(self, name: str) -> Task:
        try:
            return self._tasks[name]
        except KeyError:
            raise UnknownTask(name) from None

    def __contains__(self, name: object) -> bool:
        return name in self._tasks

    def __iter__(self):
        return iter(sorted(self._tasks.values(), key=lambda t: t.name))

    def validate_args(self, name: str, args: Any) -> dict[str, str]:
        """Field-level messages for args that break the task's schema ({} when valid)."""
        validator = self._validators[self.get(name).name]
        errors: dict[str, str] = {}
        for error in sorted(validator.iter_errors(args), key=lambda e: list(e.path)):
            errors.setdefault(_field_of(error), error.message)
        return errors

    def with_defaults(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        """Args with the schema's top-level defaults filled in."""
        return apply_defaults(self.get(name).schema, args)


def apply_defaults(schema: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
    """Args with the schema's top-level property defaults filled in (args win)."""
    props = schema.get("properties", {})
    filled = {k: v["default"] for k, v in props.items() if isinstance(v, dict) and "default" in v}
    filled.update(args)
    return filled


def _field_of(error: Any) -> str:
    path = ".".join(str(p) for p in error.path)
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        return ".".join(filter(None, (path, missing))) or "args"
    if error.validator == "additionalProperties":
        extra = error.message.split("'")[1] if "'" in error.message else ""
        return ".".join(filter(None, (path, extra))) or "args"
    return path or "args"


class TaskModuleError(ImportError):
    """A module named in JOBSCHED_TASK_MODULES cannot be imported."""


def import_task_modules(modules: Iterable[str]) -> None:
    """Import deployers' modules (JOBSCHED_TASK_MODULES) so their @task decorators run."""
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise TaskModuleError(
                f"JOBSCHED_TASK_MODULES names {module!r}, which cannot be imported: {error}"
            ) from error
