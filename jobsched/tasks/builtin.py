"""Built-in tasks (SPEC §4): sleep, echo, fail, and shell when an operator enables it.

Each declares a JSON Schema (draft 2020-12) for its args: the API validates with it and the
job form renders one field per property from its title, description and default.
"""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterable
from typing import IO, Any

from .. import tasks as deployed  # the package's default registry, read at build time
from ..scheduler.registry import Task, TaskContext, TaskRegistry, import_task_modules

DRAFT = "https://json-schema.org/draft/2020-12/schema"
KILL_GRACE_SECONDS = 1.0  # SIGTERM first, SIGKILL the whole group after this
SHELL_POLL_SECONDS = 0.1  # how often shell looks at its process while waiting for a stop


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
        "description": "Run with /bin/sh -c; stdout and stderr become the output.",
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


def shell(ctx: TaskContext, command: str) -> dict[str, int]:
    """Run `/bin/sh -c command` in its own process group, logging its output line by line;
    on cancel or timeout the whole group is killed. A non-zero exit fails the attempt."""
    proc = subprocess.Popen(
        ["/bin/sh", "-c", command], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, start_new_session=True,  # own group: kill it whole
    )
    reader = threading.Thread(target=_pump, args=(proc.stdout, ctx), daemon=True)
    reader.start()
    while proc.poll() is None:
        if ctx.wait(SHELL_POLL_SECONDS):
            _kill_group(proc)
            break
    exit_code = proc.wait()
    reader.join(KILL_GRACE_SECONDS)
    if exit_code != 0:
        raise RuntimeError(f"command exited with status {exit_code}")
    return {"exit_code": exit_code}


def _pump(stream: IO[bytes] | None, ctx: TaskContext) -> None:
    """Copy a process's output into the attempt's log, one line at a time."""
    if stream is None:
        return
    with stream:
        for raw in stream:
            ctx.log(raw.decode("utf-8", "replace").rstrip("\r\n"))


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, then SIGKILL whatever of it is left after a grace."""
    _signal_group(proc.pid, signal.SIGTERM)
    try:
        proc.wait(KILL_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        pass
    # Always SIGKILL the group: the shell may have exited on SIGTERM while children that
    # ignore it still hold the output pipe open.
    _signal_group(proc.pid, signal.SIGKILL)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass  # the group is already gone


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
