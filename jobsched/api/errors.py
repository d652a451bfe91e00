"""Errors under /jobs/api: always JSON `{"message", "errors"}` with SPEC §6's status.

flask-restx answers errors raised in its resources itself, bypassing Flask's error handlers,
and its default behaviour differs between testing and production (PROPAGATE_EXCEPTIONS) and
adds "did you mean" route hints to 404s. `JsonApi.handle_error` replaces all of that: domain
errors map through the handlers registered here, HTTP errors keep their status and headers,
and anything else is a bug left to Flask's handler (jobsched/errors.py: logged, JSON 500).
Errors that never reach a resource (unknown paths, methods on non-resource routes) are
answered by jobsched/errors.py, in the same JSON form.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response
from flask_restx import Api
from werkzeug.exceptions import BadRequest, HTTPException

from ..jobs.errors import (
    DuplicateJob,
    Forbidden,
    JobNotFound,
    QuotaExceeded,
    UserNotFound,
    ValidationFailed,
    WrongState,
)
from ..jobs.fair_use import SubmitRateExceeded
from ..scheduler.states import InvalidTransition, JobStatus
from ..schedules.service import ScheduleNotFound

ErrorResult = tuple[dict[str, Any], int, dict[str, str]]
# Headers an error response keeps from the exception (Allow on 405, Retry-After on 429...).
_DROPPED_HEADERS = frozenset({"content-type", "content-length"})
# What a user asked for, by the state it would have led to.
_ACTIONS = {JobStatus.CANCELLED: "be cancelled", JobStatus.PENDING: "be retried"}


def error_body(message: str, errors: dict[str, str] | None = None) -> dict[str, Any]:
    """SPEC §6's error object."""
    return {"message": message, "errors": errors or {}}


class JsonApi(Api):
    """flask-restx's Api, whose every error is SPEC's JSON, the same in tests and production."""

    def handle_error(self, e: Exception) -> Response:
        """Turn an exception raised under a resource into its JSON error response."""
        handler = _handler_for(self.error_handlers, e)
        if handler is not None:
            body, code, headers = _normalised(handler(e))
        elif isinstance(e, HTTPException):
            body, code, headers = http_error(e)
        else:
            raise e  # a bug, not bad input: Flask's own handler logs it and answers JSON 500
        return self.make_response(body, code, headers)


def _handler_for(handlers: dict[type, Callable], error: Exception) -> Callable | None:
    """The handler registered for the most specific class of `error`."""
    for cls in type(error).__mro__:
        if cls in handlers:
            return handlers[cls]
    return None


def _normalised(result: Any) -> ErrorResult:
    body, code, *rest = result if isinstance(result, tuple) else (result, 500)
    if not isinstance(body, dict):
        body = {}
    message = str(body.get("message") or "Error.")
    # A handler's own fields beyond the two (e.g. existing_id) stay.
    extra = {k: v for k, v in body.items() if k not in ("message", "errors")}
    return {**error_body(message, body.get("errors")), **extra}, code, (rest[0] if rest else {})


def http_error(e: HTTPException) -> ErrorResult:
    """An HTTP error keeps its status, description and headers (Allow, Retry-After...)."""
    code = e.code or 500
    message = e.description or e.name
    if type(e) is BadRequest and isinstance(e.__cause__, BadRequest):
        message = e.__cause__.description or message  # Flask hides why JSON failed to parse
    headers = {k: v for k, v in e.get_headers() if k.lower() not in _DROPPED_HEADERS}
    if code == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return error_body(message), code, headers


def register_error_handlers(api: Api) -> None:
    """Map the job layer's refusals to statuses; docstrings document them in the spec."""
    _register_input_refusals(api)
    _register_state_refusals(api)


def _register_input_refusals(api: Api) -> None:
    """What the request asked: bad input, not allowed, not there, too much."""

    @api.errorhandler(ValidationFailed)
    def validation_failed(error: ValidationFailed) -> ErrorResult:
        """Bad input; `errors` names each field and why."""
        return error_body(error.message, error.errors), 400, {}

    @api.errorhandler(Forbidden)
    def forbidden(error: Forbidden) -> ErrorResult:
        """Not allowed for this user; `errors` names the field that asked (e.g. priority)."""
        return error_body(str(error), error.errors), 403, {}

    @api.errorhandler(UserNotFound)
    def user_not_found(error: UserNotFound) -> ErrorResult:
        """No such user."""
        return error_body(str(error)), 404, {}

    @api.errorhandler(QuotaExceeded)
    def quota_exceeded(error: QuotaExceeded) -> ErrorResult:
        """Too many of the owner's jobs pending already; nothing was stored."""
        return error_body(str(error), {"quota": f"At most {error.limit:,} pending jobs."}), \
            429, {}

    @api.errorhandler(SubmitRateExceeded)
    def submit_rate_exceeded(error: SubmitRateExceeded) -> ErrorResult:
        """Too many submissions; Retry-After says when the next one may come."""
        body, code, headers = http_error(error)
        return error_body(body["message"], {"rate": f"At most {error.rate}."}), code, headers

    @api.errorhandler(JobNotFound)
    def job_not_found(error: JobNotFound) -> ErrorResult:
        """No such job, or not yours."""
        return error_body(str(error)), 404, {}

    @api.errorhandler(ScheduleNotFound)
    def schedule_not_found(error: ScheduleNotFound) -> ErrorResult:
        """No such schedule, or not yours."""
        return error_body(str(error)), 404, {}


def _register_state_refusals(api: Api) -> None:
    """What the jobs' state refuses (409)."""

    @api.errorhandler(InvalidTransition)
    def invalid_transition(error: InvalidTransition) -> ErrorResult:
        """The job's state does not allow this change."""
        done = _ACTIONS.get(error.target, f"become {error.target.value}")
        message = f"A {error.current.value} job cannot {done}."
        return error_body(message), 409, {}

    @api.errorhandler(DuplicateJob)
    def duplicate_job(error: DuplicateJob) -> ErrorResult:
        """Another pending or running job of yours holds this unique_key (`existing_id`);
        nothing was stored."""
        body = error_body(str(error), {error.field: f"Held by job {error.existing_id}."})
        return {**body, "existing_id": error.existing_id}, 409, {}

    @api.errorhandler(WrongState)
    def wrong_state(error: WrongState) -> ErrorResult:
        """The job's state does not allow this change."""
        return error_body(str(error)), 409, {}
