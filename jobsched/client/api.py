"""`Client`: jobsched's REST API from Python (SPEC §13), with nothing of the server
imported — only `requests`, and python-socketio when it is installed."""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, cast

from .errors import ApiError
from .http import Timeout, Transport
from .types import Forecast, Job
from .waiting import Deadline, listen, poll, socketio_available

BATCH_SIZE = 1000  # the most POST /jobs/api/jobs/batch/ takes in one call
MAX_PER_PAGE = 200
_ITEM_KEY = re.compile(r"^jobs\[(\d+)\]")


class Client:
    """One user's view of a jobsched server, by API token.

    `timeout` bounds each HTTP request (seconds, or requests' (connect, read) pair). Calls
    that are safe to repeat (GET, DELETE) are retried `retries` times with a doubling pause
    from `backoff` seconds when the connection fails or times out; a POST never is, since
    the first one may have been carried out. Errors raise `ApiError`; no answer at all
    raises `ServerUnreachable`.
    """

    def __init__(self, base_url: str, token: str, timeout: Timeout = 10.0,
                 retries: int = 3, backoff: float = 0.25) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.http = Transport(self.base_url, token, timeout, retries, backoff)

    @classmethod
    def login(cls, base_url: str, username: str, password: str, **options: Any) -> Client:
        """A client with a new API token for this username and password."""
        transport = Transport(base_url, None, options.get("timeout", 10.0))
        try:
            body = transport.call("POST", "/auth/token",
                                  json={"username": username, "password": password})
        finally:
            transport.close()
        return cls(base_url, body["token"], **options)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- jobs ---------------------------------------------------------------------------

    def submit(self, name: str, task: str = "sleep", args: Mapping[str, Any] | None = None,
               **fields: Any) -> Job:
        """Create one job; `fields` are the other create fields of SPEC §4 and §10–§12
        (priority, deadline, run_at, max_attempts, unique_key, depends_on...)."""
        body = {"name": name, "task": task, **fields}
        if args is not None:
            body["args"] = dict(args)
        return cast(Job, self.http.call("POST", "/jobs/", json=body))

    def submit_many(self, jobs: Iterable[Mapping[str, Any]]) -> list[Job]:
        """Create many jobs with the batch endpoint, 1000 per call.

        Each call is all or nothing, so up to 1000 jobs are created together or not at all.
        More are sent in several calls: if one fails, the jobs of the calls before it stay
        created and are on the raised ApiError's `created`; its `errors` keep the server's
        `jobs[i]...` keys, with `i` counted over the whole list. An empty list is no call.
        """
        items = [dict(job) for job in jobs]
        created: list[Job] = []
        for start in range(0, len(items), BATCH_SIZE):
            try:
                body = self.http.call("POST", "/jobs/batch/",
                                      json={"jobs": items[start:start + BATCH_SIZE]})
            except ApiError as error:
                raise _shifted(error, start, created) from None
            created.extend(body["items"])
        return created

    def get(self, job_id: int) -> Job:
        """One job's current state."""
        return cast(Job, self.http.call("GET", f"/jobs/{int(job_id)}/"))

    def list(self, **filters: Any) -> Iterator[Job]:
        """Every job matching the list's filters (SPEC §6: status, priority, task, q,
        owner, sort; a list or tuple becomes the comma list), page after page.

        Pages are read as the iteration needs them (`per_page`, at most 200, sets their
        size). A job created while iterating may push others to a later page: a job met
        twice is yielded once.
        """
        params = {key: _param(value) for key, value in filters.items() if value is not None}
        params.setdefault("per_page", MAX_PER_PAGE)
        return self._pages(params)

    def _pages(self, params: dict[str, Any]) -> Iterator[Job]:
        seen: set[int] = set()
        page = 1
        while True:
            body = self.http.call("GET", "/jobs/", params={**params, "page": page})
            for job in body["items"]:
                if job["id"] not in seen:
                    seen.add(job["id"])
                    yield job
            if not body["items"] or page * body["per_page"] >= body["total"]:
                return
            page += 1

    def wait(self, job_id: int, timeout: float | None = None,
             realtime: bool | None = None) -> Job:
        """Wait until the job is completed, failed or cancelled; its final state.

        Listens to Socket.IO when python-socketio is installed (`realtime=None`, falling
        back to polling if the server refuses the connection); `realtime=False` polls with
        a growing pause, `realtime=True` insists on listening. Raises `WaitTimeout` (a
        `TimeoutError`) after `timeout` seconds; None waits as long as it takes.
        """
        deadline = Deadline(timeout)
        use_socket = socketio_available() if realtime is None else realtime
        if use_socket:
            try:
                return listen(self.get, job_id, deadline, self.base_url, self.token)
            except ConnectionError:
                if realtime:
                    raise
        return poll(self.get, job_id, deadline)

    def cancel(self, job_id: int) -> Job:
        """Cancel a pending or running job (409 when it already finished)."""
        return cast(Job, self.http.call("POST", f"/jobs/{int(job_id)}/cancel/"))

    def retry(self, job_id: int) -> Job:
        """Put a failed or cancelled job back in the queue (409 otherwise)."""
        return cast(Job, self.http.call("POST", f"/jobs/{int(job_id)}/retry/"))

    def delete(self, job_id: int) -> None:
        """Delete a job and its executions (409 while it runs)."""
        self.http.call("DELETE", f"/jobs/{int(job_id)}/")

    def forecast(self, job_id: int) -> Forecast:
        """Where the job stands: queue position, forecast start and finish, deadline risk
        and why it waits (SPEC §11). Servers without forecasts yet answer 404 (ApiError)."""
        return cast(Forecast, self.http.call("GET", f"/jobs/{int(job_id)}/forecast/"))


def _param(value: Any) -> Any:
    """A query parameter: lists and tuples become the API's comma lists."""
    if isinstance(value, list | tuple | set | frozenset):
        return ",".join(str(item) for item in value)
    return value


def _shifted(error: ApiError, offset: int, created: list[Job]) -> ApiError:
    """The error of the batch starting at `offset`, its item keys counted over the list."""
    def shift(key: str) -> str:
        return _ITEM_KEY.sub(lambda m: f"jobs[{int(m.group(1)) + offset}]", key)

    shifted = ApiError(error.status, error.message,
                       {shift(key): why for key, why in error.errors.items()},
                       existing_id=error.existing_id, retry_after=error.retry_after)
    shifted.created = list(created)
    return shifted
