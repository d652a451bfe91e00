"""/admin/nodes: the scheduler processes, their heartbeats and the jobs they run."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template
from flask_login import current_user, login_required
from sqlalchemy import func, select

from ..extensions import db
from ..models import Job
from ..scheduler.states import JobStatus
from .nodes import node_views

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@login_required
def admins_only() -> None:
    """Every page here is for administrators; anyone else gets 403."""
    if not current_user.is_authenticated:
        # Only the methods login_required exempts (OPTIONS) get here anonymously; Flask
        # answers those with the allowed methods alone, no page.
        return
    if not current_user.is_admin:
        abort(403, "Only administrators can see this page.")


@bp.get("/nodes")
def nodes() -> str:
    """Live and recently stopped scheduler nodes, with the system-wide limit."""
    live, stopped = node_views(db.session)
    running = db.session.scalar(
        select(func.count()).select_from(Job).where(Job.status == JobStatus.RUNNING.value))
    return render_template(
        "admin/nodes.html", live=live, stopped=stopped, running=running,
        limit=current_app.config["JOBSCHED_MAX_CONCURRENT_JOBS"],
    )
