"""/account: list the user's API tokens, create one (its secret shown once), revoke one."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from ..auth.tokens import issue_token, list_tokens, revoke_token
from ..extensions import db
from .forms import TokenForm

bp = Blueprint("account", __name__, url_prefix="/account")


def _page(form: TokenForm, new_secret: str | None = None) -> Response:
    html = render_template("account.html", form=form, new_secret=new_secret,
                           tokens=list_tokens(db.session, current_user))
    response = Response(html, mimetype="text/html")
    # The page can hold a token's only plaintext copy: keep it out of every cache.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("")
@login_required
def index() -> Response:
    """The account page with the user's tokens, newest first."""
    return _page(TokenForm())


@bp.post("/tokens")
@login_required
def create_token() -> Response:
    """Issue a token and show its secret in this response only; it is stored hashed."""
    form = TokenForm()
    if not form.validate_on_submit():
        return _page(form)
    _, secret = issue_token(db.session, current_user, form.name.data or "")
    return _page(TokenForm(formdata=None), new_secret=secret)


@bp.post("/tokens/<int:token_id>/revoke")
@login_required
def revoke(token_id: int) -> Response:
    """Revoke one of the user's own live tokens; anyone else's is 'not found'."""
    if not revoke_token(db.session, current_user, token_id):
        abort(404, "No such live token on your account.")
    flash("Token revoked: scripts using it are now refused.", "success")
    return redirect(url_for("account.index"))
