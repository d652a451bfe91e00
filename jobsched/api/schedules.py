"""/jobs/api/schedules/…: recurring jobs (SPEC §12): list, create, read, change, delete,
pause, resume, run-now, and a preview of a cron's next fire times.

Resources parse input, call jobsched.schedules.service and answer with the one JSON form
from jobsched.schedules.serialize; bodies are copied field by field, never passed on whole.
"""
from __future__ import annotations

from typing import Any

from flask import Response, current_app, request, url_for
from flask_restx import Namespace, Resource

from ..extensions import db
from ..jobs.errors import ValidationFailed
from ..jobs.fair_use import current_rules, submitting
from ..jobs.serialize import job_to_json
from ..models import Schedule
from ..runtime import event_sink, task_registry
from ..scheduler.clock import utcnow
from ..scheduler.policy import queue_policy
from ..scheduler.recurrence import DEFAULT_TIMEZONE
from ..schedules import service
from ..schedules.preview import preview
from ..schedules.serialize import schedules_to_json
from .auth import authenticated, caller
from .schedule_schemas import (
    schedule_in,
    schedule_list,
    schedule_out,
    schedule_patch,
    schedule_preview,
)
from .schemas import error_responses, job_out

ns = Namespace("schedules", path="/schedules",
               description="Recurring jobs: a cron in a time zone, and the job it makes.",
               decorators=[authenticated])
SCHEDULE_ID = {"schedule_id": "The schedule's id."}
PREVIEW_PARAMS = {
    "cron": {"description": "A 5-field cron expression.", "type": "string", "required": True},
    "timezone": {"description": "An IANA time zone (default UTC).", "type": "string"},
}


def _payload() -> dict[str, Any]:
    """The allow-listed fields of the (already validated) JSON body."""
    body = request.get_json()
    return {key: body[key] for key in service.FIELDS if key in body}


def _json(schedule: Schedule) -> dict[str, Any]:
    return schedules_to_json(db.session, [schedule])[0]


@ns.route("/", strict_slashes=False)
class ScheduleList(Resource):
    @ns.response(200, "Your schedules (an admin's: everyone's), newest first.", schedule_list)
    @error_responses(ns, 401)
    def get(self) -> dict[str, Any]:
        """List the schedules you may see."""
        return {"items": schedules_to_json(db.session,
                                           service.list_schedules(db.session, caller()))}

    @ns.expect(schedule_in, validate=True)
    @ns.response(201, "The new schedule.", schedule_out, headers={"Location": "Its URL."})
    @error_responses(ns, 400, 401, 403, 413, 415)
    def post(self) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Create a schedule; its first job comes at the cron's next fire time.

        400 with errors.cron or errors.timezone for a bad cron or zone, errors.job.<field>
        for a job template a create would refuse.
        """
        schedule = service.create_schedule(db.session, caller(), _payload(), task_registry(),
                                           current_rules())
        location = url_for("api.schedule_item", schedule_id=schedule.id)
        return _json(schedule), 201, {"Location": location}


@ns.route("/preview/", strict_slashes=False)
class SchedulePreview(Resource):
    @ns.doc(params=PREVIEW_PARAMS)
    @ns.response(200, "The next 5 fire times.", schedule_preview)
    @error_responses(ns, 400, 401)
    def get(self) -> dict[str, Any]:
        """Preview a cron's next 5 fire times in a time zone (what the form shows)."""
        unknown = set(request.args) - set(PREVIEW_PARAMS)
        if unknown:
            raise ValidationFailed({k: "Unknown query parameter." for k in sorted(unknown)})
        return preview(request.args.get("cron"),
                       request.args.get("timezone", DEFAULT_TIMEZONE), utcnow())


@ns.route("/<int:schedule_id>/", strict_slashes=False, endpoint="schedule_item")
@ns.doc(params=SCHEDULE_ID)
class ScheduleItem(Resource):
    @ns.response(200, "The schedule.", schedule_out)
    @error_responses(ns, 401, 404)
    def get(self, schedule_id: int) -> dict[str, Any]:
        """Read one schedule."""
        return _json(service.get_schedule(db.session, caller(), schedule_id))

    @ns.expect(schedule_patch, validate=True)
    @ns.response(200, "The changed schedule.", schedule_out)
    @error_responses(ns, 400, 401, 403, 404, 413, 415)
    def put(self, schedule_id: int) -> dict[str, Any]:
        """Change a schedule's fields (partial, like PATCH; `job` replaces the template)."""
        return self._update(schedule_id)

    @ns.expect(schedule_patch, validate=True)
    @ns.response(200, "The changed schedule.", schedule_out)
    @error_responses(ns, 400, 401, 403, 404, 413, 415)
    def patch(self, schedule_id: int) -> dict[str, Any]:
        """Change some of a schedule's fields; a new cron or zone moves the next run."""
        return self._update(schedule_id)

    @ns.response(204, "Deleted; the jobs it made stay.")
    @error_responses(ns, 400, 401, 404)
    def delete(self, schedule_id: int) -> Response:
        """Delete a schedule; the jobs it made stay (their schedule_id becomes null)."""
        service.delete_schedule(db.session, caller(), schedule_id)
        return Response(status=204, mimetype="application/json")

    def _update(self, schedule_id: int) -> dict[str, Any]:
        schedule = service.update_schedule(db.session, caller(), schedule_id, _payload(),
                                           task_registry(), current_rules())
        return _json(schedule)


@ns.route("/<int:schedule_id>/pause/", strict_slashes=False)
@ns.doc(params=SCHEDULE_ID)
class SchedulePause(Resource):
    @ns.response(200, "The paused schedule.", schedule_out)
    @error_responses(ns, 400, 401, 404)
    def post(self, schedule_id: int) -> dict[str, Any]:
        """Pause: no fire time comes until it is resumed."""
        return _json(service.pause_schedule(db.session, caller(), schedule_id))


@ns.route("/<int:schedule_id>/resume/", strict_slashes=False)
@ns.doc(params=SCHEDULE_ID)
class ScheduleResume(Resource):
    @ns.response(200, "The schedule, enabled again.", schedule_out)
    @error_responses(ns, 400, 401, 404)
    def post(self, schedule_id: int) -> dict[str, Any]:
        """Resume from the next fire time after now; those missed while paused never run."""
        return _json(service.resume_schedule(db.session, caller(), schedule_id))


@ns.route("/<int:schedule_id>/run-now/", strict_slashes=False)
@ns.doc(params=SCHEDULE_ID)
class ScheduleRunNow(Resource):
    @ns.response(201, "The job it made.", job_out, headers={"Location": "The job's URL."})
    @error_responses(ns, 400, 401, 403, 404, 429)
    def post(self, schedule_id: int) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Make one job from the schedule's template now, as a create would (fair use
        applies: 429 with errors.quota or errors.rate)."""
        rules = current_rules()
        with submitting(caller(), rules):
            job = service.run_now(db.session, caller(), schedule_id, task_registry(),
                                  event_sink(), rules)
        body = job_to_json(job, policy=queue_policy(current_app.config))
        return body, 201, {"Location": url_for("api.job_item", job_id=job.id)}

