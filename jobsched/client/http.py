"""HTTP under the client: one `requests` session with the token, JSON in and out, errors
turned into `ApiError`, and retries with backoff for the calls that are safe to repeat."""
from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import requests

from .errors import ApiError, ServerUnreachable

API_PREFIX = "/jobs/api"
# Repeating these changes nothing the first attempt did not (a second DELETE is a 404).
# POST is never repeated: the first one may have created the job before the connection broke.
IDEMPOTENT = frozenset({"GET", "HEAD", "DELETE"})
MAX_BACKOFF = 4.0
USER_AGENT = "jobsched-client/0.1"

Timeout = float | tuple[float, float]


class Transport:
    """Requests to one jobsched server's API as one token's user."""

    def __init__(self, base_url: str, token: str | None, timeout: Timeout = 10.0,
                 retries: int = 3, backoff: float = 0.25) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.headers["Accept"] = "application/json"
        if token is not None:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def close(self) -> None:
        self.session.close()

    def call(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
             json: Any = None) -> Any:
        """`method` the API's `path`; the decoded JSON body (None when empty), or ApiError."""
        response = self._send(method, f"{self.base_url}{API_PREFIX}{path}", params, json)
        if response.status_code >= 400:
            raise error_from(response)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ApiError(response.status_code, "The server answered with something other "
                           "than JSON: is the URL a jobsched server?") from None

    def _send(self, method: str, url: str, params: Mapping[str, Any] | None,
              json: Any) -> requests.Response:
        attempts = 1 + (self.retries if method in IDEMPOTENT else 0)
        for attempt in range(1, attempts + 1):
            try:
                return self.session.request(method, url, params=params, json=json,
                                            timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as error:
                if attempt == attempts:
                    raise ServerUnreachable(unreachable_message(self.base_url, error,
                                                                attempts)) from error
                time.sleep(min(self.backoff * 2 ** (attempt - 1), MAX_BACKOFF))
        raise AssertionError("unreachable")  # the loop returns or raises


def error_from(response: requests.Response) -> ApiError:
    """The ApiError a response with an error status stands for."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):  # not the API's JSON: a proxy's page, a wrong URL...
        return ApiError(response.status_code, response.reason or "Error.")
    errors = body.get("errors")
    existing = body.get("existing_id")
    return ApiError(response.status_code, str(body.get("message") or response.reason),
                    {str(k): str(v) for k, v in errors.items()} if isinstance(errors, dict)
                    else None,
                    existing_id=existing if isinstance(existing, int) else None,
                    retry_after=retry_after(response.headers.get("Retry-After")))


def retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (the API sends a number; an HTTP date is left out)."""
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def unreachable_message(base_url: str, error: Exception, attempts: int) -> str:
    """One line saying why there was no answer, without requests' nested reprs."""
    if isinstance(error, requests.Timeout):
        why = "no answer in time"
    elif "refused" in str(error).lower():
        why = "connection refused"
    else:
        why = "the connection failed"
    tries = f" ({attempts} attempts)" if attempts > 1 else ""
    return f"Cannot reach {base_url}: {why}{tries}."
