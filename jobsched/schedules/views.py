"""The schedules' pages (SPEC §12): `/schedules` lists them with their next run and last
job (static/js/schedules.js keeps that live), `/schedules/new` is the form, and each row's
actions are POST forms."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from ..extensions import db
from ..jobs.errors import Forbidden, QuotaExceeded, ValidationFailed
from ..jobs.fair_use import SubmitRateExceeded, current_rules, submitting
from ..jobs.views import visible_tasks
from ..runtime import event_sink, task_registry
from ..scheduler.clock import utcnow
from . import service
from .forms import ScheduleForm
from .preview import preview
from .serialize import schedules_to_json

bp = Blueprint("schedules", __name__, url_prefix="/schedules")


@bp.get("")
@login_required
def index() -> str:
    """Every schedule the user may see, with next run and last job."""
    schedules = schedules_to_json(db.session, service.list_schedules(db.session, current_user))
    return render_template("schedules/index.html", schedules=schedules)


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new() -> ResponseReturnValue:
    """The form; a valid schedule is saved and the browser goes to the list."""
    form = ScheduleForm()
    form.use_tasks([task.name for task in visible_tasks(current_user)])
    problems: list[str] = []
    if form.validate_on_submit():
        problems = _save(form)
        if not problems and not form.errors:
            flash(f"Schedule “{form.name.data}” saved.", "success")
            return redirect(url_for("schedules.index"))
    status = 400 if request.method == "POST" else 200
    return render_template("schedules/new.html", form=form, problems=problems,
                           preview=_preview(form.cron.data, form.timezone.data)), status


def _save(form: ScheduleForm) -> list[str]:
    """Create the schedule; the service's refusals land on the form's fields."""
    try:
        service.create_schedule(db.session, current_user, form.payload(), task_registry(),
                                current_rules())
    except ValidationFailed as failed:
        return form.attach(failed.errors)
    except ValueError as error:  # args that are no JSON
        form.args_json.errors = [str(error)]
    except Forbidden as refusal:
        return form.attach(refusal.errors) if refusal.errors else [str(refusal)]
    return []


def _preview(cron: Any, zone: Any) -> dict[str, Any] | None:
    """The next fire times for the form as it stands, or None while it is no valid cron."""
    try:
        return preview(cron, zone, utcnow())
    except ValidationFailed:
        return None


@bp.post("/<int:schedule_id>/pause")
@login_required
def pause(schedule_id: int) -> Response:
    """No fire time comes until it is resumed."""
    return _act(schedule_id, "paused", service.pause_schedule)


@bp.post("/<int:schedule_id>/resume")
@login_required
def resume(schedule_id: int) -> Response:
    """Fire again from the next fire time after now."""
    return _act(schedule_id, "resumed", service.resume_schedule)


@bp.post("/<int:schedule_id>/delete")
@login_required
def delete(schedule_id: int) -> Response:
    """Delete the schedule; the jobs it made stay."""
    return _act(schedule_id, "deleted; its jobs stay", service.delete_schedule)


@bp.post("/<int:schedule_id>/run-now")
@login_required
def run_now(schedule_id: int) -> Response:
    """One job now, like a submission (fair use applies); the browser goes to the job."""
    rules = current_rules()
    try:
        with submitting(current_user, rules):
            job = service.run_now(db.session, current_user, schedule_id, task_registry(),
                                  event_sink(), rules)
    except service.ScheduleNotFound:
        return _not_found()
    except (QuotaExceeded, SubmitRateExceeded, Forbidden, ValidationFailed) as refusal:
        flash(f"No job was made: {refusal}", "danger")
        return redirect(url_for("schedules.index"))
    return redirect(url_for("jobs.detail", job_id=job.id))


def _act(schedule_id: int, done: str, action: Any) -> Response:
    try:
        action(db.session, current_user, schedule_id)
    except service.ScheduleNotFound:
        return _not_found()
    flash(f"Schedule {schedule_id} {done}.", "success")
    return redirect(url_for("schedules.index"))


def _not_found() -> Response:
    abort(404, "No such schedule, or not one of yours.")


@bp.app_template_filter("local_time")
def local_time(value: str | None, zone: str) -> str:
    """An ISO instant as the schedule's local time, for people (the list's next run)."""
    if not value:
        return "—"
    return datetime.fromisoformat(value).astimezone(ZoneInfo(zone)).strftime(
        "%Y-%m-%d %H:%M %Z")
