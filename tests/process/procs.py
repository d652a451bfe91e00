"""Real OS processes for the process tests: schedulers, the web server, their output.

Every process writes stdout and stderr to files under the test's tmp_path, so a failing
test can show what each process said; a `ProcessGroup` kills whatever is still alive.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import Engine

from tests.process.jobs_db import node_status

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
FLASK = VENV_BIN / "flask"
SECRET_KEY = "process-tests-" + "5f1d0c9a7e" * 4
# Variables of the test run that must not leak into a child's configuration.
SCRUBBED_PREFIXES = ("JOBSCHED_", "DB_", "REDIS_", "FLASK_", "TEST_", "PG")
SCRUBBED = frozenset({"DATABASE_URL", "SECRET_KEY", "HOST", "PORT"})


def child_env(database_url: str, **settings: object) -> dict[str, str]:
    """A production-like environment for a child process, plus `settings`."""
    env = {
        key: value for key, value in os.environ.items()
        if key not in SCRUBBED and not key.startswith(SCRUBBED_PREFIXES)
    }
    env.update({
        "DATABASE_URL": database_url, "JOBSCHED_ENV": "production", "SECRET_KEY": SECRET_KEY,
        "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT),
    })
    env.update({key: str(value) for key, value in settings.items()})
    return env


def spare_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Process:
    """One child process with its output in files."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], logs: Path,
                 own_group: bool = False) -> None:
        self.name = name
        # A process that forks workers (gunicorn) gets a process group of its own, so that
        # kill() ends its workers too instead of leaving them holding the port.
        self.own_group = own_group
        self.stdout_path = logs / f"{name}.stdout"
        self.stderr_path = logs / f"{name}.stderr"
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.popen = subprocess.Popen(
                args, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                start_new_session=own_group,
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    def send(self, sig: signal.Signals) -> None:
        """Send a signal (a no-op when the process has already exited)."""
        if self.popen.poll() is None:
            self.popen.send_signal(sig)

    def wait(self, timeout: float) -> int:
        """Its exit status; fails the test if it is still running after `timeout` s."""
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.name} still running after {timeout} s") from None

    def kill(self) -> None:
        """SIGKILL and reap; SIGKILL ends a SIGSTOPped process too (and, for a process with
        its own group, whatever it forked)."""
        if self.popen.poll() is None:
            if self.own_group:
                os.killpg(self.pid, signal.SIGKILL)
            else:
                self.popen.kill()
            self.popen.wait(10)

    def output(self) -> str:
        """Everything it wrote so far, stdout then stderr."""
        parts = []
        for path in (self.stdout_path, self.stderr_path):
            text = path.read_text(errors="replace") if path.exists() else ""
            parts.append(f"--- {path.name} ---\n{text}")
        return "\n".join(parts)


class ProcessGroup:
    """The processes of one test; all killed at teardown, their output kept for reports."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.processes: list[Process] = []

    def scheduler(self, database_url: str, node: str, *extra: str, **settings: object) -> Process:
        """Start `flask --app jobsched run-scheduler --node NODE` on `database_url`."""
        args = [str(FLASK), "--app", "jobsched", "run-scheduler", "--node", node, *extra]
        return self.start(node, args, child_env(database_url, **settings))

    def web(self, database_url: str, port: int, **settings: object) -> Process:
        """Start `python wsgi.py` (eventlet, embedded scheduler) on 127.0.0.1:port."""
        env = child_env(database_url, HOST="127.0.0.1", PORT=port, **settings)
        return self.start("web", [sys.executable, str(ROOT / "wsgi.py")], env)

    def gunicorn(self, database_url: str, name: str, port: int, **settings: object) -> Process:
        """Start a web node as production does: `gunicorn -k eventlet -w 1 wsgi:app
        --bind 127.0.0.1:PORT` (docs/deploy.md)."""
        args = [str(VENV_BIN / "gunicorn"), "-k", "eventlet", "-w", "1", "wsgi:app",
                "--bind", f"127.0.0.1:{port}"]
        return self.start(name, args, child_env(database_url, **settings), own_group=True)

    def start(self, name: str, args: list[str], env: dict[str, str],
              own_group: bool = False) -> Process:
        process = Process(name, args, env, self.logs, own_group)
        self.processes.append(process)
        return process

    def kill_all(self) -> None:
        for process in self.processes:
            process.kill()

    def report(self) -> str:
        return "\n\n".join(f"===== {p.name} (pid {p.pid}, exit {p.returncode}) =====\n"
                           f"{p.output()}" for p in self.processes)


def wait_for_exit(process: Process, timeout: float) -> tuple[int, float]:
    """Exit status and how long it took to exit, measured from now."""
    started = time.monotonic()
    status = process.wait(timeout)
    return status, time.monotonic() - started


def wait_ready(engine: Engine, *processes: Process, timeout: float = 30.0) -> None:
    """Wait until each scheduler's node row says running; fail at once if one exits."""
    deadline = time.monotonic() + timeout
    waiting = list(processes)
    while waiting:
        for process in list(waiting):
            if process.returncode is not None:
                raise AssertionError(f"{process.name} exited with {process.returncode}:\n"
                                     f"{process.output()}")
            if node_status(engine, process.name) == "running":
                waiting.remove(process)
        if time.monotonic() > deadline:
            raise AssertionError(f"not started within {timeout} s: {[p.name for p in waiting]}")
        time.sleep(0.05)
