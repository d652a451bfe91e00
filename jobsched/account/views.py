"""/account: the user's API tokens (create, list, revoke), their password, and logging out
every device."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from ..auth import logins
from ..auth.budget import BudgetSpent, checked
from ..auth.service import password_matches
from ..auth.tokens import issue_token, list_tokens
from ..extensions import db
from .forms import PasswordForm, TokenForm

PASSWORD_PREFIX = "password"

bp = Blueprint("account", __name__, url_prefix="/account")


def _page(token_form: TokenForm | None = None, password_form: PasswordForm | None = None,
          new_secret: str | None = None, status: int = 200) -> Response:
    html = render_template(
        "account.html", form=token_form or TokenForm(formdata=None), new_secret=new_secret,
        password_form=password_form or PasswordForm(formdata=None, prefix=PASSWORD_PREFIX),
        tokens=list_tokens(db.session, current_user))
    response = Response(html, status=status, mimetype="text/html")
    # The page can hold a token's only plaintext copy: keep it out of every cache.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("")
@login_required
def index() -> Response:
    """The account page with the user's tokens, newest first."""
    return _page()


@bp.post("/tokens")
@login_required
def create_token() -> Response:
    """Issue a token and show its secret in this response only; it is stored hashed."""
    form = TokenForm()
    if not form.validate_on_submit():
        return _page(form)
    _, secret = issue_token(db.session, current_user, form.name.data or "")
    return _page(new_secret=secret)


@bp.post("/tokens/<int:token_id>/revoke")
@login_required
def revoke(token_id: int) -> Response:
    """Revoke one of the user's own live tokens, closing the sockets opened with it;
    anyone else's is 'not found'."""
    if not logins.revoke(current_user, token_id):
        abort(404, "No such live token on your account.")
    flash("Token revoked: scripts using it are now refused.", "success")
    return redirect(url_for("account.index"))


@bp.post("/password")
@login_required
def password() -> Response:
    """Change the password (the current one is checked against the failed-login budget);
    every other session and remember cookie of the user ends."""
    form = PasswordForm(prefix=PASSWORD_PREFIX)
    if not form.validate_on_submit():
        return _page(password_form=form)
    user = current_user._get_current_object()
    current = form.current.data
    try:
        right = checked(user.username, lambda: user if password_matches(user, current) else None)
    except BudgetSpent as spent:
        form.current.errors = [spent.description]
        return _page(password_form=form, status=429)
    if right is None:
        form.current.errors = ["That is not your current password."]
        return _page(password_form=form)
    logins.change_password(user, form.password.data)
    flash("Password changed. Every other device you were logged in on is logged out.",
          "success")
    return redirect(url_for("account.index"))


@bp.post("/logout-everywhere")
@login_required
def logout_everywhere() -> Response:
    """End every session and remember cookie of the user, this browser's included."""
    logins.end_every_login(current_user._get_current_object())
    flash("You are logged out on every device.", "info")
    return redirect(url_for("auth.login"))
