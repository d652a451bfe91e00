"""The benchmarks' sandbox: scratch databases, a private Redis, child processes, waits.

Everything a benchmark starts goes through a `Sandbox`, which stops it (and drops the
databases it made) on the way out, whatever happened. Every wait is bounded twice: by its
own timeout and by the whole run's `Budget`, so `make bench` always ends.
"""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import psycopg2
import psycopg2.extensions

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
FLASK = VENV_BIN / "flask"
GUNICORN = VENV_BIN / "gunicorn"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SCRATCH_PREFIX = "jobsched_bench"
# Settings of the caller's shell that must not leak into a child's configuration.
SCRUBBED_PREFIXES = ("JOBSCHED_", "DB_", "REDIS_", "FLASK_", "TEST_", "PG", "BENCH_")
SCRUBBED = frozenset({"DATABASE_URL", "SECRET_KEY", "HOST", "PORT"})
STOP_SECONDS = 15.0  # SIGTERM, then SIGKILL after this


class BudgetExceeded(RuntimeError):
    """The run took longer than it was allowed; everything started is being stopped."""


class Budget:
    """The whole run's deadline: every wait checks it, so no benchmark can hang."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds

    def check(self) -> None:
        """Raise BudgetExceeded once the run's time is up."""
        if time.monotonic() > self.deadline:
            raise BudgetExceeded(f"the run exceeded its budget of {self.seconds:.0f} s")

    def left(self) -> float:
        """Seconds left (never negative)."""
        return max(self.deadline - time.monotonic(), 0.0)


def wait_until(budget: Budget, predicate: Callable[[], Any], timeout: float, what: str,
               interval: float = 0.05) -> Any:
    """Poll `predicate` until it returns something truthy; TimeoutError after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        budget.check()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s")
        time.sleep(interval)


def spare_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def libpq_url(url: str) -> str:
    """A postgresql:// URL psycopg2 understands (SQLAlchemy's `+psycopg2` spelling removed)."""
    for prefix in ("postgresql+psycopg2://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix):]
    return url


def database_url(base: str, name: str) -> str:
    """`base` (a postgresql:// URL) pointing at database `name` instead."""
    head, _, _ = base.rpartition("/")
    return f"{head}/{name}"


def connect(url: str, autocommit: bool = True) -> psycopg2.extensions.connection:
    """A plain psycopg2 connection for the benchmarks' own SQL (seeding, reading results)."""
    conn = psycopg2.connect(url, connect_timeout=5)
    conn.autocommit = autocommit
    return conn


class Process:
    """One child process; its stdout and stderr go to files in the sandbox's log folder."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], logs: Path) -> None:
        self.name = name
        self.log_path = logs / f"{name}.log"
        self.started = time.time()
        with open(self.log_path, "wb") as out:
            self.popen = subprocess.Popen(args, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                          stdout=out, stderr=subprocess.STDOUT)
        self.ps = psutil.Process(self.popen.pid)

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.popen.pid

    def alive(self) -> bool:
        """True while the process has not exited."""
        return self.popen.poll() is None

    def check_alive(self) -> None:
        """Fail with its output when it died on its own."""
        if not self.alive():
            raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n"
                               f"{self.tail()}")

    def memory(self) -> tuple[int, int]:
        """(RSS, peak RSS) in bytes, from /proc (VmHWM is the high-water mark)."""
        rss = self.ps.memory_info().rss
        peak = rss
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1]) * 1024
        return rss, peak

    def cpu_seconds(self) -> float:
        """User + system CPU time this process has used so far."""
        times = self.ps.cpu_times()
        return times.user + times.system

    def stop(self, timeout: float = STOP_SECONDS) -> int | None:
        """SIGTERM, wait, then SIGKILL; returns the exit status."""
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                return self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        if self.alive():
            self.popen.kill()
        return self.popen.wait(10)

    def tail(self, lines: int = 30) -> str:
        """The last lines it wrote."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


class Sandbox:
    """What one benchmark run starts: databases, Redis, schedulers, web servers.

    `close()` stops every process and drops every database it made, in reverse order.
    """

    def __init__(self, base_url: str, budget: Budget, redis_url: str | None = None,
                 keep_logs: bool = False) -> None:
        self.base_url, self.budget = libpq_url(base_url), budget
        self.logs = Path(tempfile.mkdtemp(prefix="jobsched-bench-"))
        self.keep_logs = keep_logs
        self.secret_key = secrets.token_hex(32)
        self._processes: list[Process] = []
        self._databases: list[str] = []
        self._template: str | None = None
        self._external_redis = redis_url
        self._redis_url: str | None = None

    # -- databases ------------------------------------------------------------------------

    def database(self, label: str) -> str:
        """A fresh migrated database (a copy of the run's template), dropped at close()."""
        template = self._template or self._make_template()
        name = f"{SCRATCH_PREFIX}_{label}_{uuid.uuid4().hex[:8]}"
        self._admin_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        self._databases.append(name)
        return database_url(self.base_url, name)

    def drop_database(self, url: str) -> None:
        """Drop one of this sandbox's databases now (frees disk between figures)."""
        name = url.rpartition("/")[2]
        if name in self._databases:
            self._databases.remove(name)
            self._admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _make_template(self) -> str:
        """Migrate one database with `flask db upgrade`; the others are copied from it."""
        name = f"{SCRATCH_PREFIX}_template_{uuid.uuid4().hex[:8]}"
        self._admin_sql(f'CREATE DATABASE "{name}"')
        self._databases.append(name)
        env = self.child_env(database_url(self.base_url, name))
        result = subprocess.run(
            [str(FLASK), "--app", "jobsched", "db", "upgrade", "--directory", "migrations"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"flask db upgrade failed:\n{result.stdout}\n{result.stderr}")
        self._template = name
        return name

    def _admin_sql(self, statement: str) -> None:
        conn = connect(self.base_url)  # autocommit: CREATE/DROP DATABASE refuse transactions
        try:
            with conn.cursor() as cursor:
                cursor.execute(statement)
        finally:
            conn.close()

    # -- Redis --------------------------------------------------------------------------------

    @property
    def redis_url(self) -> str:
        """The run's Redis: the one given, else a private redis-server on a spare port.

        Socket.IO's Redis channel is shared by every database number, so a private server
        keeps the benchmarks' events away from any other jobsched on the same machine.
        """
        if self._redis_url is None:
            self._redis_url = self._external_redis or self._start_redis()
        return self._redis_url

    def _start_redis(self) -> str:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed: pass --redis-url")
        port = spare_port()
        args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no"]
        process = self.start("redis", args, dict(os.environ))
        wait_until(self.budget, lambda: _answers(port), 10, "private redis-server")
        process.check_alive()
        return f"redis://127.0.0.1:{port}/0"

    # -- processes ----------------------------------------------------------------------------

    def child_env(self, database: str, **settings: object) -> dict[str, str]:
        """A production environment for a child process, plus `settings`."""
        env = {key: value for key, value in os.environ.items()
               if key not in SCRUBBED and not key.startswith(SCRUBBED_PREFIXES)}
        env.update({
            "DATABASE_URL": database, "JOBSCHED_ENV": "production",
            "SECRET_KEY": self.secret_key, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT),
            "JOBSCHED_EMBEDDED_SCHEDULER": "0",
        })
        env.update({key: str(value) for key, value in settings.items()})
        return env

    def start(self, name: str, args: list[str], env: dict[str, str]) -> Process:
        """Start a child process that close() will stop."""
        self.budget.check()
        process = Process(name, args, env, self.logs)
        self._processes.append(process)
        return process

    def scheduler(self, database: str, node: str, *extra: str, **settings: object) -> Process:
        """`flask run-scheduler --node NODE` on `database`, emitting through Redis."""
        args = [str(FLASK), "--app", "jobsched", "run-scheduler", "--node", node, *extra]
        env = self.child_env(database, REDIS_URL=self.redis_url, **settings)
        return self.start(node, args, env)

    def web(self, database: str, name: str = "web", **settings: object) -> tuple[Process, str]:
        """The production web server (gunicorn, one eventlet worker); returns its base URL."""
        port = spare_port()
        args = [str(GUNICORN), "-k", "eventlet", "-w", "1", "-b", f"127.0.0.1:{port}",
                "--graceful-timeout", "5", "wsgi:app"]
        env = self.child_env(database, REDIS_URL=self.redis_url, **settings)
        process = self.start(name, args, env)
        base = f"http://127.0.0.1:{port}"
        wait_until(self.budget, lambda: _healthy(process, base), 60, f"{name} answering")
        return process, base

    def stop(self, process: Process) -> int | None:
        """Stop one process now (SIGTERM, then SIGKILL)."""
        status = process.stop()
        if process in self._processes:
            self._processes.remove(process)
        return status

    # -- the end ------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop every process (newest first), drop every database, remove the logs."""
        for process in reversed(self._processes):
            process.stop()
        self._processes.clear()
        for name in reversed(self._databases):
            try:
                self._admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except psycopg2.Error as error:
                print(f"bench: could not drop database {name}: {error}", file=sys.stderr)
        self._databases.clear()
        if not self.keep_logs:
            shutil.rmtree(self.logs, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _healthy(process: Process, base: str) -> bool:
    """True once GET /healthz answers 200; fails at once if the server died."""
    import http.client

    process.check_alive()
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=2)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()
