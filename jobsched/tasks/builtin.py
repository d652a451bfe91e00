"""Built-in tasks (SPEC §4): sleep, echo, fail, and shell when an operator enables it.

Each declares a JSON Schema (draft 2020-12) for its args: the API validates with it and the
job form renders one field per property from its title, description and default.
"""
from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from .. import tasks as deployed  # the package's default registry, read at build time
from ..scheduler.registry import Task, TaskContext, TaskRegistry, import_task_modules
from .shell import shell

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def _schema(title: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "$schema": DRAFT, "type": "object", "title": title, "properties": properties,
        "required": required, "additionalProperties": False,
    }


SLEEP_ARGS = _schema("Sleep", {
    "seconds": {
        "type": "number", "minimum": 0, "maximum": 86400, "default": 1, "title": "Seconds",
        "description": "How long to sleep, 0 to 86400 seconds.",
    },
}, [])
ECHO_ARGS = _schema("Echo", {
    "message": {
        "title": "Message", "description": "Any JSON value; it becomes the job's result.",
    },
}, ["message"])
FAIL_ARGS = _schema("Fail", {
    "message": {
        "type": "string", "maxLength": 10000, "default": "failed on purpose",
        "title": "Message", "description": "The error every attempt raises.",
    },
}, [])
SHELL_ARGS = _schema("Shell", {
    "command": {
        "type": "string", "minLength": 1, "maxLength": 10000, "title": "Command",
        "description": "Run with /bin/sh -c and a minimal environment; stdout and stderr "
                       "become the output.",
    },
}, ["command"])


def sleep(ctx: TaskContext, seconds: float = 1) -> dict[str, Any]:
    """Sleep, reporting progress; stops as soon as the attempt is cancelled or times out."""
    started = time.monotonic()
    step = min(max(seconds / 100, 0.05), 1.0)  # ~1 % progress steps, at least 1 a second
    while (elapsed := time.monotonic() - started) < seconds:
        ctx.progress(100 * elapsed / seconds)
        if ctx.wait(min(step, seconds - elapsed)):
            return {"slept": round(elapsed, 3)}  # the outcome is cancelled/timed_out anyway
    ctx.progress(100)
    return {"slept": seconds}


def echo(ctx: TaskContext, message: Any) -> Any:
    """Return the message as the job's result."""
    return message


class FailRequested(Exception):
    """What the `fail` task raises, every time."""


def fail(ctx: TaskContext, message: str = "failed on purpose") -> None:
    """Always raise: for trying retries and failure handling."""
    raise FailRequested(message)


def add_builtins(registry: TaskRegistry, enable_shell: bool) -> TaskRegistry:
    """Register the built-in tasks on `registry` (shell only when enabled)."""
    registry.add(Task("sleep", sleep, SLEEP_ARGS, "Sleep for a while, reporting progress."))
    registry.add(Task("echo", echo, ECHO_ARGS, "Return the message as the result."))
    registry.add(Task("fail", fail, FAIL_ARGS, "Always fail (for trying retries)."))
    if enable_shell:
        description = "Run a shell command (admins only)."
        registry.add(Task("shell", shell, SHELL_ARGS, description, admin_only=True))
    return registry


def build_registry(enable_shell: bool, modules: Iterable[str]) -> TaskRegistry:
    """A fresh registry: the built-ins, shell if enabled, and every task the deployers'
    modules (JOBSCHED_TASK_MODULES) registered with `@jobsched.tasks.task`."""
    import_task_modules(modules)
    registry = add_builtins(TaskRegistry(), enable_shell)
    for task in deployed.registry:  # looked up now, so a test may swap the default registry
        if task.name in registry or task.name == "shell":
            raise ValueError(f"task {task.name!r} from JOBSCHED_TASK_MODULES clashes with a "
                             "built-in task; choose another name")
        registry.add(task)
    return registry
