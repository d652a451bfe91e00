"""SPEC §5 on a real `python wsgi.py`: while its private PostgreSQL is stopped under load,
every API call and page answers 503 with Retry-After (never a 500, never a traceback in its
log), and the web recovers by itself once the server is back."""
from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections import Counter

import pytest

from jobsched import create_app
from tests.conftest import TEST_ENV, app_settings, upgrade_schema
from tests.helpers import wait_until
from tests.process.own_postgres import own_postgres
from tests.process.test_web_input import PASSWORD, add_user
from tests.process.test_web_process import start_web

pytestmark = [pytest.mark.slow]

PATHS = ["/jobs/api/jobs/stats/", "/jobs/api/jobs/", "/jobs/api/tasks/"]


@pytest.fixture
def private_server():
    with own_postgres() as server:
        yield server


class Load:
    """Clients calling the API with a token, and the login page, on threads of their own;
    every answer's status is counted, and a 503 must carry Retry-After."""

    def __init__(self, base: str, token: str) -> None:
        self.base, self.token = base, token
        self.statuses: Counter[int] = Counter()
        self.unready: list[str] = []  # 503s without Retry-After, and other faults
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(path,), daemon=True)
                         for path in [*PATHS, "/auth/login"]]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)

    def count(self, status: int) -> int:
        with self._lock:
            return self.statuses[status]

    def _run(self, path: str) -> None:
        while not self._stop.is_set():
            status, retry_after = self._get(path)
            with self._lock:
                self.statuses[status] += 1
                if status == 503 and retry_after is None:
                    self.unready.append(f"{path}: 503 without Retry-After")
            time.sleep(0.02)

    def _get(self, path: str) -> tuple[int, str | None]:
        request = urllib.request.Request(self.base + path, headers={
            "Authorization": f"Bearer {self.token}", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.headers.get("Retry-After")
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get("Retry-After")
        except OSError as error:
            with self._lock:
                self.unready.append(f"{path}: {error}")
            return 0, None


def test_api_and_pages_answer_503_through_a_database_restart(private_server, procs):
    database = private_server.create_database("jobsched")
    upgrade_schema(create_app(app_settings(database), env=TEST_ENV))
    add_user(database, "alice")  # its engine is disposed: nothing pooled outlives the restart
    web, client = start_web(procs, database, JOBSCHED_EMBEDDED_SCHEDULER="0")
    client.login("alice", PASSWORD)

    with Load(client.base, client.token) as load:
        wait_until(lambda: load.count(200) >= 20, timeout=15, message="no load got through")
        private_server.stop()
        wait_until(lambda: load.count(503) >= 20, timeout=20,
                   message="the outage was not answered 503")
        answered = client.call("GET", "/jobs/api/jobs/stats/")
        private_server.start()
        before = load.count(200)
        wait_until(lambda: load.count(200) >= before + 20, timeout=30,
                   message="the web did not recover after the database came back")

    status, body, _ = answered
    assert status == 503 and "database" in body["message"] and body["errors"] == {}
    assert load.count(500) == 0, load.statuses
    assert load.unready == []
    assert "Traceback" not in web.output()
    assert web.returncode is None
