"""The `shell` task (SPEC §4, §14): `/bin/sh -c command`, fenced off from the scheduler.

- **Environment**: the command sees only a few harmless variables (`SHELL_ENV_KEEP`), never
  the server's `SECRET_KEY`, `DATABASE_URL`, `REDIS_URL` or anything else it was given.
- **Process group**: the command runs in a session of its own. Whatever it leaves behind
  (`cmd &`) is ended with it: when the command exits, is cancelled or times out, the group
  gets SIGTERM, then SIGKILL for whatever is still alive after `KILL_GRACE_SECONDS`.
- **Scheduler death**: a SIGKILLed scheduler can clean nothing up, so the group watches it.
  The command starts under `WRAPPER` with the read end of a pipe whose only write end the
  scheduler holds; a tiny watcher inside the group blocks reading it. The kernel closes the
  write end when the scheduler dies however it dies, the watcher sees end-of-file and
  ends the group (SIGTERM, grace, SIGKILL). A parent-death signal (prctl PR_SET_PDEATHSIG)
  would reach only the direct child, not what it started, would fire when the *thread*
  that started the command exits rather than the process, and needs a `preexec_fn`, which
  is unsafe in a threaded process; the pipe has none of these problems and is not
  Linux-only. A command that deliberately leaves its session (`setsid`) escapes all of
  this: `shell` is for trusted administrators, not a sandbox.
- **Output** is read in chunks of at most `READ_CHUNK_BYTES`, and a line longer than
  `LINE_LIMIT_CHARS` is logged in pieces, so one endless line cannot fill the memory; the
  attempt keeps the last 64 KiB as for every task.
"""
from __future__ import annotations

import codecs
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO

from ..scheduler.registry import TaskContext

KILL_GRACE_SECONDS = 1.0  # SIGTERM first, SIGKILL what is left of the group after this
SHELL_POLL_SECONDS = 0.1  # how often shell looks at its process while waiting for a stop
GROUP_POLL_SECONDS = 0.02  # how often the group is checked during the grace
READ_CHUNK_BYTES = 64 * 1024
LINE_LIMIT_CHARS = 16 * 1024
# Locale, time zone, home and search path: what a command needs to behave normally, and
# nothing a deployment configures (secrets live in the other variables).
SHELL_ENV_KEEP = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "USER",
                  "LOGNAME")
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
# Run as `sh -c WRAPPER jobsched-shell COMMAND` with the watch pipe on stdin. The watcher is
# started by a subshell that exits at once, so it is not the command's child (a command's
# `wait` never waits for it); it dies with the group's SIGTERM, unless the pipe closed
# first: then it ignores SIGTERM long enough to end the group itself. An asynchronous
# list's stdin is /dev/null, hence the explicit `<&3`.
WRAPPER = f"""exec 3<&0 </dev/null
( {{ read -r _ <&3; trap '' TERM; kill -TERM 0; sleep {KILL_GRACE_SECONDS:g}; kill -KILL 0; }} \
>/dev/null 2>&1 & )
exec 3<&-
exec /bin/sh -c "$1"
"""


def shell(ctx: TaskContext, command: str) -> dict[str, int]:
    """Run `/bin/sh -c command` with a minimal environment in its own process group, logging
    its output line by line; the group is ended when the command exits, is cancelled or
    times out. A non-zero exit fails the attempt."""
    watch_read, watch_write = os.pipe()  # non-inheritable: no other child gets the write end
    try:
        proc = subprocess.Popen(
            ["/bin/sh", "-c", WRAPPER, "jobsched-shell", command], stdin=watch_read,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=shell_environment(),
            start_new_session=True,  # own session and group: ended whole
        )
    except BaseException:
        os.close(watch_write)
        raise
    finally:
        os.close(watch_read)
    reader = threading.Thread(target=pump, args=(proc.stdout, ctx), daemon=True)
    reader.start()
    try:
        while proc.poll() is None and not ctx.wait(SHELL_POLL_SECONDS):
            pass
    finally:
        end_group(proc)
        os.close(watch_write)
    reader.join(KILL_GRACE_SECONDS)
    if proc.returncode != 0:
        raise RuntimeError(f"command exited with status {proc.returncode}")
    return {"exit_code": proc.returncode}


def shell_environment(env: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The variables a command sees: `SHELL_ENV_KEEP` from `env`, with a default PATH."""
    kept = {name: env[name] for name in SHELL_ENV_KEEP if name in env}
    kept.setdefault("PATH", DEFAULT_PATH)
    return kept


def pump(stream: IO[bytes] | None, ctx: TaskContext) -> None:
    """Copy a process's output into the attempt's log, line by line, in bounded chunks."""
    if stream is None:
        return
    decoder = codecs.getincrementaldecoder("utf-8")("replace")  # a chunk may split a char
    # What is there now, at most a chunk: a buffered stream's read1, or a raw one's read
    # (eventlet's green pipe is raw). A buffered read() would wait for a full chunk.
    read = getattr(stream, "read1", stream.read)
    pending = ""
    with stream:
        while chunk := read(READ_CHUNK_BYTES):
            pending = _log_lines(ctx, pending + decoder.decode(chunk))
    pending += decoder.decode(b"", final=True)
    if pending:
        ctx.log(pending)


def _log_lines(ctx: TaskContext, text: str) -> str:
    """Log every whole line of `text` (cut to LINE_LIMIT_CHARS pieces); return the rest."""
    *lines, rest = text.split("\n")
    for line in lines:
        for piece in _pieces(line.rstrip("\r")):
            ctx.log(piece)
    while len(rest) >= LINE_LIMIT_CHARS:
        ctx.log(rest[:LINE_LIMIT_CHARS])
        rest = rest[LINE_LIMIT_CHARS:]
    return rest


def _pieces(line: str) -> Iterator[str]:
    yield line[:LINE_LIMIT_CHARS]
    for start in range(LINE_LIMIT_CHARS, len(line), LINE_LIMIT_CHARS):
        yield line[start:start + LINE_LIMIT_CHARS]


def end_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, then SIGKILL whatever of it still lives after the grace
    (children that ignore SIGTERM would otherwise keep running and hold the output open)."""
    pgid = proc.pid  # the session leader's pid names the group, as long as it has members
    _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + KILL_GRACE_SECONDS
    while (proc.poll() is None or group_alive(pgid)) and time.monotonic() < deadline:
        time.sleep(GROUP_POLL_SECONDS)
    if proc.poll() is None or group_alive(pgid):
        _signal_group(pgid, signal.SIGKILL)
    proc.wait()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass  # the group is already gone


def group_alive(pgid: int, proc_root: Path = Path("/proc")) -> bool:
    """True while a process of the group runs. Zombies do not count: where nobody reaps
    orphans (PID 1 in some containers) the group would otherwise never end."""
    if not (proc_root / "self" / "stat").exists():  # no procfs: ask the kernel
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    with os.scandir(proc_root) as entries:
        return any(entry.name.isdigit() and _live_member(Path(entry.path) / "stat", pgid)
                   for entry in entries)


def _live_member(stat: Path, pgid: int) -> bool:
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()  # the name may hold spaces
    except (OSError, IndexError):
        return False  # exited while we looked
    return fields[2] == str(pgid) and fields[0] != "Z"  # state, ppid, pgrp, ...
