"""/jobs/api/jobs/…: list, create, read, change, cancel, retry, delete; executions; stats.

Resources parse input, call jobsched.jobs (queries to read, service to change) and return
the one JSON form from jobsched.jobs.serialize. Bodies are copied field by field from the
validated payload, never passed on whole.
"""
from __future__ import annotations

from typing import Any

from flask import Response, current_app, request, url_for
from flask_restx import Namespace, Resource

from ..extensions import db
from ..jobs import queries, service
from ..jobs.batch import create_jobs
from ..jobs.bulk import bulk_action
from ..jobs.errors import ValidationFailed
from ..jobs.fair_use import current_rules, submitting
from ..jobs.fields import CREATE_FIELDS, EDITABLE_FIELDS
from ..jobs.serialize import execution_to_json, job_to_json
from ..models import Job
from ..runtime import event_sink, task_registry
from ..scheduler.policy import QueuePolicy, queue_policy
from .auth import authenticated, caller
from .schemas import (
    PRIORITIES,
    STATUSES,
    batch_in,
    batch_out,
    bulk_in,
    bulk_out,
    error_responses,
    execution_list,
    job_in,
    job_out,
    job_page,
    job_patch,
    stats_out,
)

ns = Namespace("jobs", path="/jobs", description="Jobs: submit, watch, change, cancel, retry.",
               decorators=[authenticated])

LIST_PARAMS: dict[str, dict[str, Any]] = {
    "status": {"description": "Only these statuses (comma-separated).", "type": "array",
               "items": {"type": "string", "enum": STATUSES}, "collectionFormat": "csv"},
    "priority": {"description": "Only these priorities (comma-separated).", "type": "array",
                 "items": {"type": "string", "enum": PRIORITIES}, "collectionFormat": "csv"},
    "task": {"description": "Only jobs of this task.", "type": "string"},
    "q": {"description": "Name contains this text (case-insensitive).", "type": "string"},
    "owner": {"description": "Only this user's jobs (username; for admins, who see all).",
              "type": "string"},
    "sort": {"description": "Order: newest first (default), oldest first, earliest deadline, "
                            "highest priority, or `queue`: the pending jobs in the order the "
                            "scheduler will run them.",
             "type": "string", "enum": list(queries.SORTS), "default": queries.DEFAULT_SORT},
    "page": {"description": "Page number, from 1.", "type": "integer", "minimum": 1,
             "default": 1},
    "per_page": {"description": "Jobs per page.", "type": "integer", "minimum": 1,
                 "maximum": queries.MAX_PER_PAGE, "default": queries.DEFAULT_PER_PAGE},
}
JOB_ID = {"job_id": "The job's id."}


def _payload(fields: tuple[str, ...]) -> dict[str, Any]:
    """The allow-listed fields of the (already validated) JSON body."""
    body = request.get_json()
    return {key: body[key] for key in fields if key in body}


def _policy() -> QueuePolicy:
    return queue_policy(current_app.config)


def _json(job: Job) -> dict[str, Any]:
    """The job's JSON, its effective_priority under the deployment's queue policy."""
    return job_to_json(job, policy=_policy())


@ns.route("/", strict_slashes=False)
class JobList(Resource):
    @ns.doc(params=LIST_PARAMS)
    @ns.response(200, "One page of jobs.", job_page)
    @error_responses(ns, 400, 401)
    def get(self) -> dict[str, Any]:
        """List the jobs you may see, filtered, sorted and paginated."""
        query = queries.parse_job_query(request.args)
        page = queries.list_jobs(db.session, caller(), query, _policy())
        return {"items": [_json(job) for job in page.items], "total": page.total,
                "page": page.page, "per_page": page.per_page}

    @ns.expect(job_in, validate=True)
    @ns.response(201, "The new job.", job_out,
                 headers={"Location": "The job's URL."})
    @error_responses(ns, 400, 401, 403, 409, 413, 415, 429)
    def post(self) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Submit a job; it waits in the queue until the scheduler runs it.

        Fair use (SPEC §10): 403 with errors.priority for a high priority only admins may
        use; 429 with errors.quota when you have your limit of pending jobs already, or with
        errors.rate and a Retry-After header past the submission rate. Unique jobs (SPEC
        §12): 409 with existing_id when a pending or running job of yours holds the
        unique_key. Nothing is stored.
        """
        rules = current_rules()
        with submitting(caller(), rules):
            job = service.create_job(db.session, caller(), _payload(CREATE_FIELDS),
                                     task_registry(), event_sink(), rules)
        location = url_for("api.job_item", job_id=job.id)
        return _json(job), 201, {"Location": location}


@ns.route("/batch/", strict_slashes=False)
class JobBatch(Resource):
    @ns.expect(batch_in, validate=False)
    @ns.response(201, "Every job, created in one transaction.", batch_out)
    @error_responses(ns, 400, 401, 403, 409, 413, 415, 429)
    def post(self) -> tuple[dict[str, Any], int]:
        """Submit 1–1000 jobs at once: all are created, or none (SPEC §13).

        Each item is checked as POST /jobs/api/jobs/ checks one; every problem is reported
        at once, keyed by index (errors["jobs[3].args.seconds"]). The pending quota and the
        submission rate count every job of the batch; a unique_key may not repeat within
        it (400), nor be held by a pending or running job of yours (409, existing_id).
        """
        body = request.get_json()
        unknown = set(body) - {"jobs"} if isinstance(body, dict) else set()
        if not isinstance(body, dict) or unknown:
            raise ValidationFailed({key: "Unknown field." for key in unknown} or {
                "": "Send a JSON object: {\"jobs\": [...]}."}, "Invalid batch.")
        items = body.get("jobs")
        rules = current_rules()
        with submitting(caller(), rules, len(items) if isinstance(items, list) else 1):
            jobs = create_jobs(db.session, caller(), items, task_registry(), event_sink(),
                               rules)
        return {"items": [_json(job) for job in jobs]}, 201


@ns.route("/bulk/", strict_slashes=False)
class JobBulk(Resource):
    @ns.expect(bulk_in, validate=False)
    @ns.response(200, "What the action did.", bulk_out)
    @error_responses(ns, 400, 401, 413, 415, 429)
    def post(self) -> dict[str, int]:
        """Cancel, retry or delete many jobs at once: by ids, or every job matching the
        list's filters (SPEC §13).

        Only jobs you may see (admins: all) are touched; one in a state the action does not
        apply to is skipped and counted. Cancel: pending and running jobs (running ones are
        stopped). Retry: failed and cancelled ones, within each owner's pending quota (429,
        nothing changed). Delete: any but running ones. Jobs depending on the cancelled or
        deleted ones are cancelled too.
        """
        result = bulk_action(db.session, caller(), request.get_json(), event_sink(),
                             current_rules())
        return {"matched": result.matched, "changed": result.changed,
                "skipped": result.skipped}


@ns.route("/stats/", strict_slashes=False)
class JobStats(Resource):
    @ns.response(200, "Counts and averages over the jobs you may see, and the slots in use "
                      "system-wide (running_all).", stats_out)
    @error_responses(ns, 401)
    def get(self) -> dict[str, Any]:
        """Summarise the jobs you may see (counts by status and priority, queue, averages)
        and how many slots are busy system-wide, whoever's jobs fill them."""
        limit = current_app.config["JOBSCHED_MAX_CONCURRENT_JOBS"]
        return queries.job_stats(db.session, caller(), limit)


@ns.route("/<int:job_id>/", strict_slashes=False, endpoint="job_item")
@ns.doc(params=JOB_ID)
class JobItem(Resource):
    @ns.response(200, "The job.", job_out)
    @error_responses(ns, 401, 404)
    def get(self, job_id: int) -> dict[str, Any]:
        """Read one job."""
        return _json(service.get_job(db.session, caller(), job_id))

    @ns.expect(job_patch, validate=True)
    @ns.response(200, "The changed job.", job_out)
    @error_responses(ns, 400, 401, 403, 404, 409, 413, 415)
    def put(self, job_id: int) -> dict[str, Any]:
        """Change a pending job's fields (partial, like PATCH); the queue re-orders at once."""
        return self._update(job_id)

    @ns.expect(job_patch, validate=True)
    @ns.response(200, "The changed job.", job_out)
    @error_responses(ns, 400, 401, 403, 404, 409, 413, 415)
    def patch(self, job_id: int) -> dict[str, Any]:
        """Change some of a pending job's fields; the queue re-orders at once."""
        return self._update(job_id)

    @ns.response(204, "Deleted, with its executions.")
    @error_responses(ns, 400, 401, 404, 409)
    def delete(self, job_id: int) -> Response:
        """Delete a job that is not running, with its executions."""
        service.delete_job(db.session, caller(), job_id, event_sink())
        return Response(status=204, mimetype="application/json")  # the API speaks only JSON

    def _update(self, job_id: int) -> dict[str, Any]:
        job = service.update_job(db.session, caller(), job_id,
                                 _payload(EDITABLE_FIELDS), task_registry(),
                                 event_sink(), current_rules())
        return _json(job)


@ns.route("/<int:job_id>/cancel/", strict_slashes=False)
@ns.doc(params=JOB_ID)
class JobCancel(Resource):
    @ns.response(200, "The cancelled job.", job_out)
    @error_responses(ns, 400, 401, 404, 409)
    def post(self, job_id: int) -> dict[str, Any]:
        """Cancel a pending or running job; a running one is stopped."""
        return _json(service.cancel_job(db.session, caller(), job_id, event_sink()))


@ns.route("/<int:job_id>/retry/", strict_slashes=False)
@ns.doc(params=JOB_ID)
class JobRetry(Resource):
    @ns.response(200, "The job, pending again.", job_out)
    @error_responses(ns, 400, 401, 404, 409, 429)
    def post(self, job_id: int) -> dict[str, Any]:
        """Retry a failed or cancelled job from attempt 1; earlier executions are kept.

        429 with errors.quota when its owner has their limit of pending jobs already.
        """
        return _json(service.retry_job(db.session, caller(), job_id, event_sink(),
                                             current_rules()))


@ns.route("/<int:job_id>/executions/", strict_slashes=False)
@ns.doc(params={**JOB_ID, "page": LIST_PARAMS["page"], "per_page": {
    **LIST_PARAMS["per_page"], "description": "Executions per page."}})
class JobExecutions(Resource):
    @ns.response(200, "One page of the job's attempts, oldest first.", execution_list)
    @error_responses(ns, 400, 401, 404)
    def get(self, job_id: int) -> dict[str, Any]:
        """List a job's executions (one per attempt), oldest first, paginated."""
        query = queries.parse_page_query(request.args)
        job = service.get_job(db.session, caller(), job_id)
        page = queries.job_executions(db.session, job, query)
        return {"items": [execution_to_json(e) for e in page.items], "total": page.total,
                "page": page.page, "per_page": page.per_page}
