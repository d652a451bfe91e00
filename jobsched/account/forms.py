"""The account page's forms: name a new API token, change the password."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo

from ..auth.forms import _rule
from ..auth.service import password_problem
from ..scheduler.limits import MAX_PASSWORD
from ..validators import MaxLength, plain_text, strip


class TokenForm(FlaskForm):
    """A token's name only helps its owner recognise it later, so it is optional."""

    name = StringField(
        "Token name (optional)", filters=[strip],
        validators=[MaxLength(100), plain_text],
        description="For example the script or machine that will use it.",
        render_kw={"maxlength": 100, "autocomplete": "off"},
    )


class PasswordForm(FlaskForm):
    """The current password (someone at an unlocked screen must not change it), the new
    one twice. Prefixed: the token form shares the page."""

    current = PasswordField(
        "Current password",
        validators=[DataRequired("Enter your current password."), MaxLength(MAX_PASSWORD)],
        render_kw={"autocomplete": "current-password"},
    )
    password = PasswordField(
        "New password",
        validators=[DataRequired("Choose a new password."), MaxLength(MAX_PASSWORD),
                    _rule(password_problem)],
        description="At least 8 characters. Every other device you are logged in on is "
                    "logged out.",
        render_kw={"autocomplete": "new-password", "minlength": 8},
    )
    confirm = PasswordField(
        "Confirm new password",
        validators=[DataRequired("Type the new password again."),
                    EqualTo("password", "The passwords do not match.")],
        render_kw={"autocomplete": "new-password"},
    )
