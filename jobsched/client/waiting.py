"""Waiting until a job finishes: by listening to Socket.IO `job_updates` when
python-socketio is installed (SPEC §7), else by polling GET with a growing pause."""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from .errors import WaitTimeout
from .types import FINISHED, Job

FIRST_POLL = 0.2
MAX_POLL = 3.0
# While listening, the job is also read over HTTP this often: an event missed during a
# reconnect must not make the wait last forever.
RECHECK_SECONDS = 15.0
CONNECT_TIMEOUT = 10.0

GetJob = Callable[[int], Job]


class Deadline:
    """The time left of a wait (`timeout=None`: no end)."""

    def __init__(self, timeout: float | None) -> None:
        self.timeout = timeout
        self._end = math.inf if timeout is None else time.monotonic() + timeout

    def left(self) -> float:
        return max(0.0, self._end - time.monotonic())

    def passed(self) -> bool:
        return self.left() <= 0


def finished(job: Job) -> bool:
    return job.get("status") in FINISHED


def poll(get: GetJob, job_id: int, deadline: Deadline) -> Job:
    """GET the job until it is finished, pausing 0.2 s, 0.4 s, ... at most 3 s between."""
    pause = FIRST_POLL
    job = get(job_id)
    while not finished(job):
        if deadline.passed():
            raise WaitTimeout(job_id, deadline.timeout or 0.0, dict(job))
        time.sleep(min(pause, deadline.left()))
        pause = min(pause * 2, MAX_POLL)
        job = get(job_id)
    return job


def socketio_available() -> bool:
    """Whether python-socketio's client can be imported here."""
    try:
        import socketio  # noqa: F401
    except ImportError:
        return False
    return True


def listen(get: GetJob, job_id: int, deadline: Deadline, base_url: str, token: str) -> Job:
    """Wait for the job's finished state in `job_updates`; ConnectionError if the server
    refuses the Socket.IO connection (the caller may poll instead)."""
    import socketio

    done = threading.Event()
    seen: dict[str, Any] = {}

    def on_updates(data: Any) -> None:
        for job in (data or {}).get("jobs", []):
            if job.get("id") == job_id and finished(job):
                seen["job"] = job
                done.set()

    client = socketio.Client(reconnection=True, logger=False, engineio_logger=False)
    client.on("job_updates", on_updates)
    origin, path = split_url(base_url)
    try:
        client.connect(origin, socketio_path=f"{path}/socket.io", auth={"token": token},
                       wait_timeout=min(CONNECT_TIMEOUT, max(deadline.left(), 1.0)))
        return _until_finished(get, job_id, deadline, done, seen)
    except socketio.exceptions.ConnectionError as error:
        raise ConnectionError(str(error)) from error
    finally:
        client.disconnect()


def _until_finished(get: GetJob, job_id: int, deadline: Deadline, done: threading.Event,
                    seen: dict[str, Any]) -> Job:
    # Read the job once connected: it may have finished before the subscription began.
    while True:
        job = get(job_id)
        if finished(job):
            return job
        if deadline.passed():
            raise WaitTimeout(job_id, deadline.timeout or 0.0, dict(job))
        if done.wait(min(RECHECK_SECONDS, deadline.left())):
            return seen["job"]


def split_url(base_url: str) -> tuple[str, str]:
    """('http://host:port', '/prefix') of a server that may live under a path prefix."""
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")
