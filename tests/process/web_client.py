"""A tiny JSON client for a live server (urllib only: the test talks HTTP like any script)."""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any


class LiveClient:
    """Calls http://127.0.0.1:<port>, with a Bearer token once `login` has run."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.token: str | None = None

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any, float]:
        """Status, decoded JSON (None when empty) and seconds taken."""
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.base + path, data, headers, method=method)
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        return status, json.loads(raw) if raw else None, time.monotonic() - started

    def answers(self) -> bool:
        """True once GET /healthz says 200."""
        try:
            return self.call("GET", "/healthz")[0] == 200
        except OSError:
            return False

    def login(self, username: str, password: str) -> None:
        status, body, _ = self.call("POST", "/jobs/api/auth/token",
                                    {"username": username, "password": password})
        assert status == 201, body
        self.token = body["token"]

    def submit(self, **job: Any) -> dict[str, Any]:
        status, body, _ = self.call("POST", "/jobs/api/jobs/", job)
        assert status == 201, body
        return body

    def job(self, job_id: int) -> dict[str, Any]:
        status, body, _ = self.call("GET", f"/jobs/api/jobs/{job_id}/")
        assert status == 200, body
        return body
