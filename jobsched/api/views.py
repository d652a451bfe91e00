"""The REST API (SPEC §6) on flask-restx, mounted at /jobs/api.

Swagger UI is served at /jobs/api/docs and the spec at /jobs/api/swagger.json.
"""
from __future__ import annotations

from flask import Blueprint

from ..scheduler.limits import MAX_ARGS_BYTES, MAX_DESCRIPTION, MAX_JSON_DEPTH
from .errors import JsonApi, register_error_handlers
from .guards import init_guards
from .jobs import ns as jobs_ns
from .schedule_schemas import SCHEDULE_MODELS
from .schedules import ns as schedules_ns
from .schemas import MODELS
from .tasks import ns as tasks_ns
from .tokens import ns as tokens_ns
from .users import ns as users_ns

bp = Blueprint("api", __name__, url_prefix="/jobs/api")

# Swagger 2.0 has no bearer scheme: an apiKey in the Authorization header is its way of
# saying "send 'Bearer <token>'".
AUTHORIZATIONS = {
    "Bearer": {
        "type": "apiKey", "in": "header", "name": "Authorization",
        "description": "Send 'Bearer <token>'; get a token from POST /jobs/api/auth/token. "
                       "Browsers may use their session cookie instead, with the page's "
                       "CSRF token in X-CSRFToken on changes.",
    },
}

DESCRIPTION = f"""Submit jobs, watch them run, change, cancel and retry them.

* Authenticate with `Authorization: Bearer <token>` (POST /auth/token) or, from a page of
  this site, the session cookie plus the page's CSRF token in `X-CSRFToken` on changes.
* Errors are `{{"message": "...", "errors": {{"field": "why"}}}}`. Unknown or read-only body
  fields, and unknown query parameters, are refused (400), never ignored.
* Timestamps are ISO-8601; one without an offset means UTC; answers always carry one.
* A body is at most 1 MiB (413) and nests at most {MAX_JSON_DEPTH} levels; a job's `description` is
  at most {MAX_DESCRIPTION:,} characters and its `args` at most {MAX_ARGS_BYTES // 1024} KiB as
  compact JSON (400).
* You see only your own jobs (admins see all): another user's job answers 404.
* Fair use: a user has at most JOBSCHED_MAX_PENDING_PER_USER jobs pending (429,
  `errors.quota`), submits at most JOBSCHED_SUBMIT_RATE jobs (429, `errors.rate`, with
  Retry-After), and may be refused high priority (403, `errors.priority`); admins set one
  user's own limits at /users/{{username}}/limits.
* Queue order: priority, then earliest deadline. With JOBSCHED_AGING_SECONDS a job waiting
  that long is ordered one class higher (`effective_priority`); with
  JOBSCHED_OVERLOAD_POLICY=feasible_first a job that can no longer meet its deadline goes
  after its class's jobs that still can. `sort=queue` lists the queue in that order.
"""

api = JsonApi(
    bp, version="1.0", title="jobsched API", description=DESCRIPTION,
    doc="/docs", authorizations=AUTHORIZATIONS, security="Bearer", validate=True,
)
for model in (*MODELS, *SCHEDULE_MODELS):
    api.models[model.name] = model
register_error_handlers(api)
for namespace in (jobs_ns, schedules_ns, tasks_ns, tokens_ns, users_ns):
    api.add_namespace(namespace)
init_guards(bp)
