"""Built-in tasks run through run_attempt, as the node runs them."""
from __future__ import annotations

import io
import os
import threading
import time
import tracemalloc

import pytest

from jobsched.scheduler.executor import OUTPUT_LIMIT_BYTES, AttemptContext, run_attempt
from jobsched.scheduler.states import ExecutionStatus
from jobsched.scheduler.store import ClaimedJob, Outcome
from jobsched.tasks.builtin import build_registry
from jobsched.tasks.shell import LINE_LIMIT_CHARS, READ_CHUNK_BYTES, pump
from tests.helpers import T0, wait_until

REGISTRY = build_registry(enable_shell=True, modules=[])


def run(name: str, args: dict, ctx: AttemptContext | None = None) -> Outcome:
    claim = ClaimedJob(1, 1, name, args, 1, 3, 5, None, "tok", 1, "node", T0)
    return run_attempt(REGISTRY.get(name), claim, ctx or AttemptContext())


def run_in_thread(name: str, args: dict, ctx: AttemptContext) -> list[Outcome]:
    """Start the task on a thread; the list gets its outcome when it ends."""
    done: list[Outcome] = []
    threading.Thread(target=lambda: done.append(run(name, args, ctx)), daemon=True).start()
    return done


def test_sleep_reports_progress_and_returns_what_it_slept():
    ctx = AttemptContext()
    outcome = run("sleep", {"seconds": 0.2}, ctx)
    assert outcome.status is ExecutionStatus.COMPLETED
    assert outcome.result == {"slept": 0.2}
    assert ctx.current_progress() == 100
    assert ctx.version > 2  # intermediate progress was reported too


def test_sleep_zero_and_default():
    assert run("sleep", {"seconds": 0}).result == {"slept": 0}
    assert REGISTRY.with_defaults("sleep", {}) == {"seconds": 1}


def test_sleep_stops_promptly_on_cancel():
    ctx = AttemptContext()
    done = run_in_thread("sleep", {"seconds": 3600}, ctx)
    wait_until(lambda: ctx.version > 0)
    stopped_at = time.monotonic()
    ctx.stop("cancelled")
    wait_until(lambda: done, timeout=2)
    assert time.monotonic() - stopped_at < 0.5
    assert done[0].status is ExecutionStatus.CANCELLED


def test_echo_returns_the_message_and_fail_always_fails():
    assert run("echo", {"message": {"a": [1, "b"]}}).result == {"a": [1, "b"]}
    outcome = run("fail", {"message": "on purpose"})
    assert outcome.status is ExecutionStatus.FAILED
    assert outcome.error.startswith("on purpose\n\nTraceback")


def test_shell_captures_stdout_and_stderr_line_by_line():
    outcome = run("shell", {"command": "echo out; echo err >&2; printf 'no newline'"})
    assert outcome.status is ExecutionStatus.COMPLETED
    assert outcome.result == {"exit_code": 0}
    assert outcome.output == "out\nerr\nno newline\n"


def test_shell_non_zero_exit_fails():
    outcome = run("shell", {"command": "echo partial; exit 3"})
    assert outcome.status is ExecutionStatus.FAILED
    assert outcome.error.startswith("command exited with status 3")
    assert outcome.output == "partial\n"


def _gone(pid: int) -> bool:
    """True when the process no longer exists (an unreaped zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.mark.parametrize("reason", ["cancelled", "timed_out"])
def test_shell_kills_its_whole_process_group_when_stopped(reason):
    ctx = AttemptContext()
    # The child ignores SIGTERM, so only the group-wide SIGKILL can end it.
    command = "sh -c 'trap \"\" TERM; echo child $$; exec sleep 300' & wait"
    done = run_in_thread("shell", {"command": command}, ctx)
    wait_until(lambda: "child " in ctx.output(), message="the child never started")
    child = int(ctx.output().split("child ", 1)[1].split()[0])
    assert not _gone(child)
    ctx.stop(reason)
    wait_until(lambda: done, timeout=5, message="shell did not return after the stop")
    wait_until(lambda: _gone(child), timeout=5, message=f"child {child} survived")
    assert done[0].status is ExecutionStatus(reason)
    assert os.getpgid(os.getpid())  # we, the caller, were not in the killed group


def test_shell_sees_no_secret_of_the_server(monkeypatch):
    for name, value in [("SECRET_KEY", "s3cret-key-value"), ("REDIS_URL", "redis://x:pw@r/0"),
                        ("DATABASE_URL", "postgresql://u:pw@db/jobs"), ("AWS_SECRET", "a")]:
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LANG", "C.UTF-8")
    outcome = run("shell", {"command": "env"})
    assert outcome.status is ExecutionStatus.COMPLETED
    names = {line.split("=", 1)[0] for line in outcome.output.splitlines()}
    assert not names & {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "AWS_SECRET"}
    assert "s3cret" not in outcome.output and "pw@" not in outcome.output
    assert {"PATH", "LANG"} <= names


def test_shell_still_finds_commands_without_a_path_of_its_own(monkeypatch):
    monkeypatch.delenv("PATH")
    assert run("shell", {"command": "echo $PATH; ls /"}).status is ExecutionStatus.COMPLETED


@pytest.mark.parametrize("child", [
    "sleep 30",
    "sh -c 'trap \"\" TERM; exec sleep 30'",  # ignores SIGTERM: only the SIGKILL ends it
])
def test_what_a_command_leaves_behind_ends_with_the_job(child):
    outcome = run("shell", {"command": f"{child} & echo $!"})
    assert outcome.status is ExecutionStatus.COMPLETED
    pid = int(outcome.output.split()[0])
    wait_until(lambda: _gone(pid), timeout=3, message=f"background process {pid} survived")


def test_one_endless_line_is_read_in_bounded_memory():
    command = "head -c 10000000 /dev/zero | tr '\\0' x; echo; echo done"
    tracemalloc.start()
    try:
        outcome = run("shell", {"command": command})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert outcome.status is ExecutionStatus.COMPLETED
    assert peak < 2 * 1024 * 1024, f"peak {peak} bytes for a 10 MB line"
    assert len(outcome.output) <= OUTPUT_LIMIT_BYTES
    assert outcome.output.endswith("x" * 100 + "\ndone\n")


class RawStream:
    """A stream with read() only, like eventlet's green pipe (unbuffered, no read1)."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self, size: int) -> bytes:
        return self._data.read(size)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._data.close()


@pytest.mark.parametrize("stream", [io.BytesIO, RawStream])
def test_long_lines_are_logged_in_pieces_and_characters_split_by_a_chunk_survive(stream):
    ctx = AttemptContext(output_limit=1024 * 1024)  # keep it all, to see every piece
    # The euro sign's three bytes straddle the first chunk's end.
    first = "a" * (READ_CHUNK_BYTES - 1) + "\u20ac"
    pump(stream(f"{first}\n{'b' * (LINE_LIMIT_CHARS + 5)}".encode()), ctx)
    lines = ctx.output().split("\n")
    assert "".join(lines[:-3]) == first  # no replacement character, nothing lost
    assert [len(line) for line in lines] == [LINE_LIMIT_CHARS] * (len(lines) - 2) + [5, 0]
