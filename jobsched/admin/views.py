"""/admin/nodes: the scheduler processes, their heartbeats and the jobs they run.
/admin/users: every user's pending and running jobs and their own limits (SPEC §10)."""
from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from ..extensions import db
from ..jobs.fair_use import current_rules
from ..jobs.user_limits import set_user_limits
from ..models import User
from ..storage.queue import running_jobs_count
from .forms import UserLimitsForm
from .nodes import node_views
from .users import user_views

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
    running = db.session.scalar(running_jobs_count())
    return render_template(
        "admin/nodes.html", live=live, stopped=stopped, running=running,
        limit=current_app.config["JOBSCHED_MAX_CONCURRENT_JOBS"],
    )


@bp.get("/users")
def users() -> str:
    """Every user with their pending and running jobs, their limits and a form for them."""
    return _users_page()


@bp.post("/users/<int:user_id>/limits")
def user_limits(user_id: int) -> ResponseReturnValue:
    """Store one user's own limits (empty: the default); the page again, with any errors."""
    user = db.session.get(User, user_id) or abort(404, "No such user.")
    form = UserLimitsForm.for_user(user, formdata=request.form)
    if not form.validate():
        return _users_page(invalid=form, invalid_id=user.id), 400
    set_user_limits(db.session, current_user, user.username, form.limits())
    flash(f"The limits of {user.username} are saved.", "success")
    return redirect(url_for("admin.users", _anchor=f"user-{user.id}"))


def _users_page(invalid: UserLimitsForm | None = None, invalid_id: int | None = None) -> str:
    """The page; a form that failed validation is shown as posted, with its errors."""
    views = user_views(db.session)
    forms = {v.user.id: (invalid if v.user.id == invalid_id else UserLimitsForm.for_user(v.user))
             for v in views}
    return render_template("admin/users.html", views=views, forms=forms, rules=current_rules())
