"""Register, log in, log out: thin views over auth/service.py."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ..extensions import db
from .budget import checked
from .forms import LoginForm, RegisterForm
from .logins import end_login, start_login
from .service import AccountError, authenticate, create_account

bp = Blueprint("auth", __name__, url_prefix="/auth")


def safe_next(target: str | None) -> str | None:
    """`target` when it is a path on this site, else None (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    # Browsers treat "\" like "/" and drop tabs and newlines, so "/\t/evil.com" would
    # become "//evil.com": refuse backslashes and every control or space character.
    if "\\" in target or any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in target):
        return None
    return target


def _landing(form_next: str | None = None) -> str:
    return safe_next(form_next) or url_for("jobs.dashboard")


@bp.route("/register", methods=["GET", "POST"])
def register() -> Response | str:
    """Create an account (the first one ever is an admin) and log it in; 403 when
    registration is closed (JOBSCHED_REGISTRATION)."""
    if current_app.config["JOBSCHED_REGISTRATION"] == "closed":
        return render_template("auth/registration_closed.html"), 403
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user = create_account(db.session, form.username.data, form.password.data,
                                  email=form.email.data or None)
        except AccountError as error:
            _attach_errors(form, error.errors)
        else:
            start_login(user)
            role = " You are the administrator." if user.is_admin else ""
            flash(f"Welcome, {user.username}! Your account is ready.{role}", "success")
            return redirect(url_for("jobs.dashboard"))
    return render_template("auth/register.html", form=form)


def _attach_errors(form: RegisterForm, errors: dict[str, str]) -> None:
    for name, message in errors.items():
        getattr(form, name).errors = [*getattr(form, name).errors, message]


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str:
    """Log in with username and password, then go to a same-site `next` page. Each attempt
    spends from the username's failed-login budget first (429 once it is spent)."""
    form = LoginForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next")) or ""
    failed = False
    if form.validate_on_submit():
        username, password = form.username.data, form.password.data
        user = checked(username, lambda: authenticate(db.session, username, password))
        if user is not None:
            start_login(user, remember=form.remember.data)
            return redirect(_landing(form.next.data or request.args.get("next")))
        failed = True
    return render_template("auth/login.html", form=form, failed=failed)


@bp.post("/logout")
def logout() -> Response:
    """Log out; POST only (with CSRF), so no link or image can log a user out.

    Not `login_required`: with an expired session the button still ends on the login page
    instead of a redirect back to a GET of this URL.
    """
    end_login()  # with the sockets this login opened: they keep the session they began with
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))

