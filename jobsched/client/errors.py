"""What the client raises: the server refused (`ApiError`), could not be reached
(`ServerUnreachable`), or a job did not finish in time (`WaitTimeout`)."""
from __future__ import annotations

from typing import Any


class ClientError(Exception):
    """Anything the client raises on purpose; the command line prints it as one line."""


class ApiError(ClientError):
    """The API answered with an error (SPEC §6's `{"message", "errors"}`)."""

    def __init__(self, status: int, message: str, errors: dict[str, str] | None = None,
                 existing_id: int | None = None, retry_after: float | None = None) -> None:
        self.status = status
        self.message = message
        self.errors: dict[str, str] = dict(errors or {})
        self.existing_id = existing_id  # 409 on a held unique_key: the job that holds it
        self.retry_after = retry_after  # 429 past the submission rate: seconds to wait
        self.created: list[dict[str, Any]] = []  # submit_many: jobs earlier calls made
        super().__init__(str(self))

    def __str__(self) -> str:
        details = "; ".join(f"{field or 'body'}: {why}" for field, why in self.errors.items())
        return f"{self.status} {self.message}" + (f" ({details})" if details else "")


class ServerUnreachable(ClientError):
    """No answer: the connection failed or timed out (after the retries a safe call gets)."""


class WaitTimeout(ClientError, TimeoutError):
    """`wait()` gave up before the job finished; `job` is its last state seen."""

    def __init__(self, job_id: int, timeout: float, job: dict[str, Any] | None) -> None:
        self.job_id = job_id
        self.job = job
        status = job.get("status") if job else "unknown"
        super().__init__(f"Job {job_id} did not finish within {timeout:g} s "
                         f"(still {status}).")
