"""Page views: the dashboard, the job form, a job's page and its actions (SPEC §8).

They read through jobs/queries.py and change through jobs/service.py, like the API; the
pages' live parts then follow the Socket.IO events and re-read the API (static/js).
"""
from __future__ import annotations

import json
from functools import partial
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from ..extensions import db
from ..models import Job, User
from ..runtime import event_sink, task_registry
from ..scheduler.policy import queue_policy
from ..scheduler.registry import Task
from ..scheduler.states import InvalidTransition
from ..storage.dependencies import related
from . import queries, service
from .errors import (
    DuplicateJob,
    Forbidden,
    JobNotFound,
    QuotaExceeded,
    ValidationFailed,
    WrongState,
)
from .fair_use import SubmitRateExceeded, current_rules, may_use_high, submitting
from .forms import JobForm, args_form, attach_errors, collected_args, raw_args
from .serialize import execution_to_json, job_to_json

bp = Blueprint("jobs", __name__)

DASHBOARD_FILTERS = ("status", "priority", "q")
# A job's page shows its latest attempts, as many as one page of the executions API holds.
SHOWN_EXECUTIONS = queries.DEFAULT_PER_PAGE


@bp.app_template_filter("pretty_json")
def pretty_json(value: Any) -> str:
    """JSON indented for reading; the template escapes it like any text."""
    return json.dumps(value, indent=2, ensure_ascii=False)


def visible_tasks(user: User) -> list[Task]:
    """The tasks `user` may run: admin-only ones are offered to admins alone."""
    return [task for task in task_registry() if user.is_admin or not task.admin_only]


def _stats() -> dict[str, Any]:
    limit = current_app.config["JOBSCHED_MAX_CONCURRENT_JOBS"]
    return queries.job_stats(db.session, current_user, limit)


@bp.get("/")
@login_required
def dashboard() -> str:
    """Counts, charts and the recent jobs; static/js/dashboard.js keeps them live."""
    filters = {name: request.args.get(name, "") for name in DASHBOARD_FILTERS}
    return render_template("jobs/dashboard.html", stats=_stats(), filters=filters)


@bp.route("/jobs/new", methods=["GET", "POST"])
@login_required
def new_job() -> ResponseReturnValue:
    """The job form; a valid job is created and the browser goes to its page."""
    tasks = visible_tasks(current_user)
    form = JobForm()
    form.use_tasks(tasks)
    form.offer_high(may_use_high(current_user, current_rules()))
    formdata = request.form if request.method == "POST" else None
    arg_forms = {task.name: args_form(task, formdata) for task in tasks}
    page = partial(render_template, "jobs/new.html", form=form, tasks=tasks,
                   arg_forms=arg_forms)
    if request.method != "POST":
        return page(problems=[])
    try:
        job, problems = _submit(form, arg_forms)
    except (QuotaExceeded, SubmitRateExceeded) as refusal:
        # Nothing was stored; the page says why, with the API's status and Retry-After.
        retry = getattr(refusal, "retry_after", None)
        return page(problems=[_refusal(refusal)]), 429, (
            {"Retry-After": str(retry)} if retry else {})
    if job is None:
        return page(problems=problems)
    flash(f"Job {job.id} is in the queue.", "success")
    return redirect(url_for("jobs.detail", job_id=job.id))


def _submit(form: JobForm, arg_forms: dict[str, Any]) -> tuple[Job | None, list[str]]:
    """Validate every part of the form at once; create the job when all of it is valid
    (within the fair-use rules: QuotaExceeded and SubmitRateExceeded pass through)."""
    valid = form.validate()
    task_args = arg_forms.get(form.task.data)
    raw = bool(form.args_json.data)
    args = _typed_args(form, task_args, raw)
    if not valid:
        if args is not None and task_args is not None:
            return None, _check_against_schema(form, task_args, args, raw)
        return None, []
    if args is None:
        return None, []
    rules = current_rules()
    try:
        with submitting(current_user, rules):
            job = service.create_job(db.session, current_user,
                                     {**form.job_fields(), "args": args},
                                     task_registry(), event_sink(), rules)
    except (ValidationFailed, Forbidden) as error:
        # A refusal naming no field (none the form offers) still gets said.
        return None, attach_errors(form, task_args, error.errors, raw) or (
            [] if error.errors else [_refusal(error)])
    except DuplicateJob as duplicate:
        held = {"unique_key": f"Job {duplicate.existing_id} holds this key (it is pending or "
                              "running); nothing was stored."}
        return None, attach_errors(form, task_args, held, raw)
    return job, []


def _typed_args(form: JobForm, task_args: Any, raw: bool) -> dict[str, Any] | None:
    """The args as typed (raw JSON, or the task's fields); None when they do not parse."""
    if raw:
        return raw_args(form.args_json)
    if task_args is not None and task_args.validate():
        return collected_args(task_args)
    return None


def _check_against_schema(
    form: JobForm, task_args: Any, args: dict[str, Any], raw: bool
) -> list[str]:
    """Show the task schema's verdict on the args now, not only after the next submit."""
    errors = task_registry().validate_args(form.task.data, args)
    keyed = {(key if key == "args" else f"args.{key}"): message for key, message in errors.items()}
    return attach_errors(form, task_args, keyed, raw)


@bp.get("/jobs/<int:job_id>")
@login_required
def detail(job_id: int) -> str:
    """One job with its executions; static/js/job.js keeps it live."""
    job = _job_or_404(job_id)
    latest = queries.latest_executions(db.session, job, SHOWN_EXECUTIONS)
    policy = queue_policy(current_app.config)
    waits_for, needed_by = related(db.session.connection(), job.id)
    if not current_user.is_admin:  # others' jobs depend on yours only if an admin made them
        needed_by = [other for other in needed_by if other.owner_id == current_user.id]
    return render_template("jobs/detail.html", job=job_to_json(job, policy=policy),
                           waits_for=waits_for, needed_by=needed_by,
                           executions=[execution_to_json(e) for e in latest.items],
                           executions_total=latest.total, executions_shown=SHOWN_EXECUTIONS)


def _job_or_404(job_id: int) -> Job:
    try:
        return service.get_job(db.session, current_user, job_id)
    except JobNotFound:
        abort(404, "No such job, or not one of yours.")


@bp.post("/jobs/<int:job_id>/cancel")
@login_required
def cancel(job_id: int) -> Response:
    """Cancel a pending or running job (a running one is stopped)."""
    return _act(job_id, service.cancel_job, "Job {id} is cancelled.")


@bp.post("/jobs/<int:job_id>/retry")
@login_required
def retry(job_id: int) -> Response:
    """Queue a failed or cancelled job again with a fresh set of attempts."""
    retry_job = partial(service.retry_job, rules=current_rules())
    return _act(job_id, retry_job, "Job {id} is back in the queue.")


@bp.post("/jobs/<int:job_id>/delete")
@login_required
def delete(job_id: int) -> Response:
    """Delete a job that is not running, with its executions; then back to the dashboard."""
    return _act(job_id, service.delete_job, "Job {id} is deleted.", url_for("jobs.dashboard"))


def _act(job_id: int, action: Any, done: str, landing: str | None = None) -> Response:
    """Run a lifecycle action; a refusal (wrong state) is explained on the job's page."""
    job_page = url_for("jobs.detail", job_id=job_id)
    try:
        action(db.session, current_user, job_id, event_sink())
    except JobNotFound:
        abort(404, "No such job, or not one of yours.")
    except (InvalidTransition, WrongState, QuotaExceeded) as error:
        flash(_refusal(error), "warning")
        return redirect(job_page)
    flash(done.format(id=job_id), "success")
    return redirect(landing or job_page)


def _refusal(error: Exception) -> str:
    """A sentence for a refusal ("a completed job cannot become cancelled")."""
    text = getattr(error, "description", None) or str(error)
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
