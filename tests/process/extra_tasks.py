"""Tasks for the web-process tests, registered through JOBSCHED_TASK_MODULES."""
from __future__ import annotations

import time
from typing import Any

from jobsched.tasks import task

SECONDS_ARGS = {
    "type": "object",
    "properties": {"seconds": {"type": "number", "minimum": 0, "maximum": 60}},
    "required": ["seconds"],
    "additionalProperties": False,
}


def _burn(ctx: Any, seconds: float) -> dict[str, int]:
    """Keep a CPU busy in pure Python for `seconds`, never yielding to an event loop."""
    deadline = time.monotonic() + seconds
    rounds = 0
    while (left := deadline - time.monotonic()) > 0:
        rounds += 1
        sum(i * i for i in range(20_000))
        ctx.progress(100 * (1 - left / seconds))
    ctx.progress(100)
    return {"rounds": rounds}


@task("spin", schema=SECONDS_ARGS, kind="cpu")
def spin(ctx: Any, seconds: float) -> dict[str, int]:
    """CPU-bound, declared as such: the web process runs it on a real OS thread."""
    return _burn(ctx, seconds)


@task("busy", schema=SECONDS_ARGS)
def busy(ctx: Any, seconds: float) -> dict[str, int]:
    """CPU-bound but not declared so: it runs on a green thread, executing Python code when
    a signal arrives (the signal handler then runs inside this job's green thread)."""
    return _burn(ctx, seconds)
