"""A Python client for jobsched's REST API (SPEC §13) that needs neither Flask nor the
server's dependencies: `requests` only, and python-socketio (optional) for `wait()`.

    from jobsched.client import Client
    with Client("http://127.0.0.1:5000", token) as jobs:
        job = jobs.submit("report", task="sleep", args={"seconds": 2}, priority="high")
        print(jobs.wait(job["id"], timeout=60)["status"])
"""
from __future__ import annotations

from .api import Client
from .errors import ApiError, ClientError, ServerUnreachable, WaitTimeout
from .types import FINISHED, Forecast, Job

__all__ = ["FINISHED", "ApiError", "Client", "ClientError", "Forecast", "Job",
           "ServerUnreachable", "WaitTimeout"]
