"""run_attempt maps every way a task can end to an Outcome; AttemptContext's contract."""
from __future__ import annotations

import math
import threading
import time

import pytest

from jobsched.scheduler.executor import OUTPUT_LIMIT_BYTES, AttemptContext, run_attempt
from jobsched.scheduler.registry import Task
from jobsched.scheduler.states import ExecutionStatus
from jobsched.scheduler.store import ClaimedJob
from tests.helpers import T0, wait_until


def claim(args: dict | None = None, timeout: int = 60) -> ClaimedJob:
    return ClaimedJob(1, 1, "t", args or {}, 1, 3, timeout, None, "tok", 1, "node", T0)


def run(func, args: dict | None = None, ctx: AttemptContext | None = None,
        schema: dict | None = None):
    task = Task("t", func, schema or {"type": "object"})
    return run_attempt(task, claim(args), ctx or AttemptContext())


def test_return_value_completes_with_result_and_output():
    def task(ctx, a, b=2):
        ctx.log("adding")
        return {"sum": a + b}

    outcome = run(task, {"a": 1})
    assert outcome.status is ExecutionStatus.COMPLETED
    assert outcome.result == {"sum": 3}
    assert outcome.error is None and outcome.output == "adding\n"


def test_the_last_progress_report_goes_with_the_outcome():
    def task(ctx):
        ctx.progress(30)
        ctx.progress(100)

    assert run(task).progress == 100
    assert run(lambda ctx: None).progress is None
    assert run(lambda ctx: ctx.progress(55) or 1 / 0).progress == 55


def test_text_no_store_accepts_is_replaced_or_refused():
    """PostgreSQL refuses NUL characters and lone surrogates: such output or errors would
    make the attempt's end impossible to record, so they are replaced; such a result fails."""
    def noisy(ctx):
        ctx.log("a\x00b")
        raise ValueError("bad\x00\ud800")

    outcome = run(noisy)
    assert outcome.output == "a\ufffdb\n"
    assert outcome.error.startswith("bad\ufffd?")
    assert "\x00" not in outcome.error
    refused = run(lambda ctx: {"text": ["fine", "nul\x00"]})
    assert refused.status is ExecutionStatus.FAILED
    assert "cannot be stored" in refused.error
    assert run(lambda ctx: {"k\ud800": 1}).status is ExecutionStatus.FAILED
    assert run(lambda ctx: {"text": "é ok €"}).result == {"text": "é ok €"}


def test_schema_defaults_are_passed_to_the_task():
    schema = {"type": "object", "properties": {"n": {"type": "integer", "default": 7}}}
    assert run(lambda ctx, n: n, schema=schema).result == 7


def test_exception_fails_with_message_then_traceback():
    def task(ctx):
        ctx.log("about to fail")
        raise ValueError("bad input")

    outcome = run(task)
    assert outcome.status is ExecutionStatus.FAILED
    message, trace = outcome.error.split("\n\n", 1)
    assert message == "bad input"
    assert "Traceback" in trace and "ValueError: bad input" in trace and "in task" in trace
    assert outcome.output == "about to fail\n"


def test_exception_without_message_uses_its_type_and_exit_is_caught():
    def boom(ctx):
        raise KeyError()

    assert run(boom).error.startswith("KeyError\n\n")
    assert run(lambda ctx: exit(3)).status is ExecutionStatus.FAILED


def test_wrong_args_fail_instead_of_escaping():
    outcome = run(lambda ctx: None, {"unexpected": 1})
    assert outcome.status is ExecutionStatus.FAILED
    assert "unexpected" in outcome.error


@pytest.mark.parametrize("value", [{1, 2}, object(), math.nan, {"x": math.inf}, b"bytes"])
def test_non_json_result_fails_clearly(value):
    outcome = run(lambda ctx: value)
    assert outcome.status is ExecutionStatus.FAILED
    assert outcome.error.startswith("the task's result is not JSON-serialisable")
    assert outcome.result is None


def test_circular_result_fails_clearly():
    loop: list = []
    loop.append(loop)
    assert run(lambda ctx: loop).error.startswith("the task's result is not JSON-serialisable")


def test_timeout_wins_even_if_the_task_returns_afterwards():
    ctx = AttemptContext()

    def task(ctx):
        while not ctx.wait(0.01):
            pass
        return "finished anyway"

    threading.Timer(0.05, ctx.stop, args=("timed_out",)).start()
    outcome = run(task, ctx=ctx)
    assert outcome.status is ExecutionStatus.TIMED_OUT
    assert outcome.error == "timed out after 60 s"
    assert outcome.result is None


def test_cancel_wins_over_an_exception_raised_because_of_it():
    ctx = AttemptContext()

    def task(ctx):
        ctx.wait(10)
        raise RuntimeError("interrupted")

    threading.Timer(0.02, ctx.stop, args=("cancelled",)).start()
    outcome = run(task, ctx=ctx)
    assert outcome.status is ExecutionStatus.CANCELLED


def test_first_stop_reason_sticks_and_unknown_reasons_are_refused():
    ctx = AttemptContext()
    ctx.stop("timed_out")
    ctx.stop("cancelled")
    assert ctx.stop_reason == "timed_out" and ctx.cancelled()
    with pytest.raises(ValueError):
        ctx.stop("bored")


def test_wait_returns_false_on_time_and_true_at_once_on_stop():
    ctx = AttemptContext()
    assert ctx.wait(0.01) is False
    assert ctx.wait(-1) is False
    threading.Timer(0.02, ctx.stop, args=("cancelled",)).start()
    started = time.monotonic()
    assert ctx.wait(30) is True
    assert time.monotonic() - started < 5


def test_progress_is_clamped_and_counted():
    ctx = AttemptContext()
    assert ctx.current_progress() is None
    for given, kept in [(50, 50), (-3, 0), (250, 100), (33.7, 33)]:
        ctx.progress(given)
        assert ctx.current_progress() == kept
    version = ctx.version
    ctx.progress(math.nan)
    assert ctx.current_progress() == 33 and ctx.version == version


def test_output_keeps_only_the_last_64_kib():
    ctx = AttemptContext()
    for i in range(5000):
        ctx.log(f"line {i:05d} " + "x" * 40)
    output = ctx.output()
    assert len(output.encode()) <= OUTPUT_LIMIT_BYTES
    assert output.endswith("line 04999 " + "x" * 40 + "\n")
    assert len(output.encode()) > OUTPUT_LIMIT_BYTES - 60
    assert "line 00000" not in output


def test_output_cut_never_splits_a_character():
    ctx = AttemptContext(output_limit=10)
    ctx.log("ééééééééé")  # 18 bytes + newline: the cut falls inside a character
    output = ctx.output()
    assert len(output.encode()) <= 10 and output.endswith("é\n")
    assert output.strip("é\n") == ""


def test_log_adds_newlines_only_where_missing_and_replaces_bad_text():
    ctx = AttemptContext()
    ctx.log("a")
    ctx.log("b\n")
    ctx.log("\udcff")  # a lone surrogate cannot be UTF-8: it is replaced, not raised
    assert ctx.output() == "a\nb\n?\n"
    progress, output, version = ctx.snapshot()
    assert (progress, output, version) == (None, "a\nb\n?\n", 3)


def test_context_is_safe_to_log_from_many_threads():
    ctx = AttemptContext()
    workers = [threading.Thread(target=lambda: [ctx.log("x") for _ in range(500)])
               for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    wait_until(lambda: ctx.version == 2000)
    assert ctx.output().count("x\n") == 2000
