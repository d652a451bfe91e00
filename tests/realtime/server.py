"""A real jobsched server for tests: `python wsgi.py` (eventlet, embedded scheduler) as a child
process on a spare port, plus the HTTP and Socket.IO clients that talk to it as users do.

The server runs in production mode, so its session cookie is `Secure`; browsers accept that
on http://127.0.0.1, `requests` does not, so `WebSession` carries the cookie itself.
"""
from __future__ import annotations

import itertools
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import socketio

from tests.conftest import PASSWORD
from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parents[2]
FLASK = Path(sys.executable).parent / "flask"
START_TIMEOUT = 30.0
# The test run's own settings must not leak into a child's configuration.
SCRUBBED_PREFIXES = ("JOBSCHED_", "DB_", "REDIS_", "FLASK_", "TEST_", "PG")
SCRUBBED = frozenset({"DATABASE_URL", "SECRET_KEY", "HOST", "PORT"})


def spare_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env(database_url: str, secret_key: str, **settings: object) -> dict[str, str]:
    """A production environment for a child process, plus `settings`."""
    env = {key: value for key, value in os.environ.items()
           if key not in SCRUBBED and not key.startswith(SCRUBBED_PREFIXES)}
    env.update({"JOBSCHED_ENV": "production", "SECRET_KEY": secret_key,
                "DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)})
    env.update({key: str(value) for key, value in settings.items()})
    return env


@dataclass
class Child:
    """A child process whose output goes to a file, shown when a test fails."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"===== {self.name} (exit {self.popen.poll()}) =====\n{text}"

    def stop(self) -> None:
        """SIGTERM (the scheduler hands its jobs back), then SIGKILL if it lingers."""
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)


def start_child(name: str, args: list[str], env: dict[str, str], logs: Path) -> Child:
    """Start a process whose output goes to <logs>/<name>.log."""
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}.log"
    for restart in itertools.count(2):  # a restarted process keeps its earlier log
        if not log.exists():
            break
        log = logs / f"{name}-{restart}.log"
    with open(log, "wb") as out:
        popen = subprocess.Popen(args, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                 stdout=out, stderr=subprocess.STDOUT)
    return Child(name, popen, log)


@dataclass
class LiveServer:
    """A running web server (and whatever else a test started next to it)."""

    url: str
    children: list[Child] = field(default_factory=list)
    database_url: str = ""  # what the server runs on, for tests that seed it directly

    def output(self) -> str:
        return "\n".join(child.output() for child in self.children)

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop()


def start_web(database_url: str, logs: Path, port: int | None = None,
              secret_key: str | None = None, **settings: object) -> LiveServer:
    """Start `python wsgi.py` and wait until /healthz answers 200. A restart passes the
    same port and secret key, so browsers find it again with their sessions intact."""
    port = port or spare_port()
    env = child_env(database_url, secret_key or secrets.token_hex(32), HOST="127.0.0.1",
                    PORT=port, **{"JOBSCHED_EMBEDDED_SCHEDULER": "1", **settings})
    child = start_child(f"web-{port}", [sys.executable, str(ROOT / "wsgi.py")], env, logs)
    server = LiveServer(f"http://127.0.0.1:{port}", [child], database_url)
    try:
        wait_until(lambda: _healthy(server.url, child), timeout=START_TIMEOUT,
                   interval=0.1, message=f"the web server did not start:\n{child.output()}")
    except BaseException:
        server.stop()
        raise
    return server


def start_scheduler(server: LiveServer, database_url: str, logs: Path, node: str,
                    **settings: object) -> Child:
    """Start `flask run-scheduler` next to `server` (same database, same settings)."""
    env = child_env(database_url, secrets.token_hex(32), **settings)
    args = [str(FLASK), "--app", "jobsched", "run-scheduler", "--node", node]
    child = start_child(node, args, env, logs)
    server.children.append(child)
    return child


def _healthy(url: str, child: Child) -> bool:
    if child.popen.poll() is not None:
        raise AssertionError(f"the web server exited:\n{child.output()}")
    try:
        return requests.get(f"{url}/healthz", timeout=2).status_code == 200
    except requests.ConnectionError:
        return False


# -- users over HTTP ------------------------------------------------------------------------

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class WebSession:
    """One browser-like login: form posts with CSRF tokens, and the session cookie."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One request with this login's cookie; redirects are returned, not followed."""
        headers = dict(kwargs.pop("headers", {}))
        if self.cookies:
            headers["Cookie"] = self.cookie_header()
        response = self.http.request(method, self.base + path, headers=headers,
                                     allow_redirects=False, timeout=10, **kwargs)
        self.cookies.update(response.cookies.get_dict())
        return response

    def cookie_header(self) -> str:
        """The Cookie header a browser of this login sends (for Socket.IO clients too)."""
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    def post_form(self, path: str, data: dict[str, str], form_page: str | None = None
                  ) -> requests.Response:
        """POST a form with the CSRF token its page carries."""
        page = self.request("GET", form_page or path).text
        match = CSRF_RE.search(page)
        assert match, f"no CSRF token on {form_page or path}"
        return self.request("POST", path, data={**data, "csrf_token": match.group(1)})

    def register(self, username: str) -> WebSession:
        """Create the account through the form; this session is then logged in."""
        response = self.post_form("/auth/register", {
            "username": username, "email": f"{username}@example.com",
            "password": PASSWORD, "confirm": PASSWORD})
        assert response.status_code == 302, f"registering {username}: {response.status_code}"
        return self

    def logout(self) -> None:
        """Log out through the navbar's form."""
        assert self.post_form("/auth/logout", {}, form_page="/").status_code == 302


def issue_token(base: str, username: str) -> str:
    """An API token for `username`, from POST /jobs/api/auth/token."""
    response = requests.post(f"{base}/jobs/api/auth/token", timeout=10,
                             json={"username": username, "password": PASSWORD})
    assert response.status_code == 201, response.text
    return response.json()["token"]


class Api:
    """The REST API as one user, by token."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, status: int, **kwargs: Any) -> Any:
        """`method` /jobs/api`path`, asserting the status; the JSON body (None if empty)."""
        response = self.http.request(method, f"{self.base}/jobs/api{path}", timeout=10,
                                     **kwargs)
        assert response.status_code == status, f"{method} {path}: {response.text}"
        return response.json() if response.content else None

    def create(self, **fields: Any) -> dict[str, Any]:
        """Submit a job (name defaults to "job")."""
        return self.call("POST", "/jobs/", 201, json={"name": "job", **fields})

    def job(self, job_id: int) -> dict[str, Any]:
        """One job's current state."""
        return self.call("GET", f"/jobs/{job_id}/", 200)


# -- Socket.IO ------------------------------------------------------------------------------


class Listener:
    """A Socket.IO client that keeps every event it hears, with its arrival time."""

    def __init__(self, **client_options: Any) -> None:
        self.client = socketio.Client(reconnection=False, **client_options)
        self.events: list[tuple[float, str, Any]] = []
        self._lock = threading.Lock()
        self.client.on("*", self._record)

    def _record(self, name: str, data: Any = None) -> None:
        with self._lock:
            self.events.append((time.monotonic(), name, data))

    def connect(self, url: str, transport: str = "websocket", **options: Any) -> Listener:
        """Connect with one transport only (refusals raise socketio's ConnectionError)."""
        self.client.connect(url, transports=[transport], wait_timeout=10, **options)
        return self

    def close(self) -> None:
        if self.client.connected:
            self.client.disconnect()

    def named(self, name: str) -> list[tuple[float, Any]]:
        """(arrival time, payload) of every event called `name`, in arrival order."""
        with self._lock:
            return [(at, data) for at, event, data in self.events if event == name]

    def latest_jobs(self) -> dict[int, dict[str, Any]]:
        """Each job's last state heard in `job_updates` (events in arrival order)."""
        latest: dict[int, dict[str, Any]] = {}
        for _, data in self.named("job_updates"):
            for job in data["jobs"]:
                latest[job["id"]] = job
        return latest

    def heard(self, predicate: Callable[[dict[str, Any]], bool]) -> bool:
        """Whether the latest state heard of some job satisfies `predicate`."""
        return any(predicate(job) for job in self.latest_jobs().values())
