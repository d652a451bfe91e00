"""Run one attempt of a task and turn whatever happens into an `Outcome`.

`run_attempt` never lets a task's exception escape: a scheduler must outlive every task.
A stop request (user cancel, timeout) wins over how the task itself ended, because a task
that returns after its timeout still timed out.
"""
from __future__ import annotations

import json
import threading
import traceback
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from .limits import OUTPUT_LIMIT_BYTES, clamp_progress
from .registry import Task, apply_defaults
from .states import ExecutionStatus
from .storable import storable_problem, storable_text
from .store import ClaimedJob, Outcome

STOP_REASONS = frozenset({"cancelled", "timed_out"})


class AttemptContext:
    """The `TaskContext` a running task sees, and the node's handle on that attempt.

    Thread-safe: the task logs on its own thread while the node reads and stops it.
    """

    def __init__(
        self, output_limit: int = OUTPUT_LIMIT_BYTES,
        event_factory: Callable[[], threading.Event] = threading.Event,
        lock_factory: Callable[[], Any] = threading.Lock,
    ) -> None:
        self._limit = output_limit
        # Shared by the task's thread and the node's: under eventlet, with the task on a
        # real OS thread (offload), this must be a real lock, not a green one (a green lock
        # contended across OS threads cannot switch). Nothing inside it ever yields.
        self._lock = lock_factory()
        self._stop = event_factory()
        self._reason: str | None = None
        self._progress: int | None = None
        self._output = bytearray()
        self._version = 0

    def progress(self, percent: float) -> None:
        """Report how far the task is, clamped to 0-100 (NaN is ignored)."""
        if percent != percent:  # NaN compares unequal to itself
            return
        with self._lock:
            self._progress = clamp_progress(percent)
            self._version += 1

    def log(self, line: str) -> None:
        """Append a line to the attempt's output, keeping only the last 64 KiB."""
        data = storable_text(str(line)).encode("utf-8")
        with self._lock:
            self._output += data if data.endswith(b"\n") else data + b"\n"
            # Trim only when twice the limit: amortised O(1) per line, not a copy per line.
            if len(self._output) > 2 * self._limit:
                del self._output[: -self._limit]
            self._version += 1

    def cancelled(self) -> bool:
        """True once the attempt was asked to stop (user cancel, timeout or shutdown)."""
        return self._stop.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True as soon as the attempt is asked to stop."""
        return self._stop.wait(max(0.0, seconds))

    def stop(self, reason: str) -> None:
        """Ask the task to stop; the first reason ("cancelled" or "timed_out") sticks."""
        if reason not in STOP_REASONS:
            raise ValueError(f"unknown stop reason {reason!r}")
        with self._lock:
            if self._reason is None:
                self._reason = reason
        self._stop.set()

    @property
    def stop_reason(self) -> str | None:
        """Why the attempt was stopped, or None while nobody asked it to."""
        return self._reason

    @property
    def version(self) -> int:
        """Grows with every progress or log call, so a reporter can skip unchanged state."""
        return self._version

    def snapshot(self) -> tuple[int | None, str, int]:
        """Progress, output so far and version, read together."""
        with self._lock:
            return self._progress, self._decoded_output(), self._version

    def output(self) -> str:
        """The output so far: at most the last 64 KiB of UTF-8."""
        with self._lock:
            return self._decoded_output()

    def current_progress(self) -> int | None:
        """The last progress the task reported (None if it never did)."""
        return self._progress

    def _decoded_output(self) -> str:
        # Cutting at a byte offset may split a character: "ignore" drops only that piece.
        return bytes(self._output[-self._limit:]).decode("utf-8", "ignore")


def run_attempt(task: Task, claim: ClaimedJob, ctx: AttemptContext) -> Outcome:
    """Run the task with the claim's args and map how it ended to an Outcome."""
    try:
        value = task.func(ctx, **apply_defaults(task.schema, claim.args))
    except (Exception, SystemExit) as exc:  # a task's exit() must not end the worker
        outcome = _stopped(claim, ctx) or _failed(exc, ctx)
    else:
        outcome = _stopped(claim, ctx) or _completed(value, ctx)
    return replace(outcome, progress=ctx.current_progress())


def _stopped(claim: ClaimedJob, ctx: AttemptContext) -> Outcome | None:
    if ctx.stop_reason == "timed_out":
        error = f"timed out after {claim.timeout_seconds} s"
        return Outcome(ExecutionStatus.TIMED_OUT, error=error, output=ctx.output())
    if ctx.stop_reason == "cancelled":
        return Outcome(ExecutionStatus.CANCELLED, error="cancelled", output=ctx.output())
    return None


def _failed(exc: BaseException, ctx: AttemptContext) -> Outcome:
    message = str(exc) or type(exc).__name__
    trace = "".join(traceback.format_exception(exc))
    error = storable_text(f"{message}\n\n{trace}")
    return Outcome(ExecutionStatus.FAILED, error=error, output=ctx.output())


def _completed(value: Any, ctx: AttemptContext) -> Outcome:
    try:
        # Strict JSON (no NaN/Infinity): the result is stored in a JSON column and sent to
        # browsers, both of which reject what Python's json would otherwise allow.
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        error = f"the task's result is not JSON-serialisable: {exc}"
        return Outcome(ExecutionStatus.FAILED, error=error, output=ctx.output())
    # json.dumps above refused non-finite numbers: what is left is text no store takes.
    if storable_problem(value) is not None:
        error = "the task's result cannot be stored: its text holds NUL characters or lone " \
                "surrogates"
        return Outcome(ExecutionStatus.FAILED, error=error, output=ctx.output())
    return Outcome(ExecutionStatus.COMPLETED, result=value, output=ctx.output())
