"""Register and log-in forms (Flask-WTF, so each carries a CSRF token)."""
from __future__ import annotations

import re
from collections.abc import Callable

from flask_wtf import FlaskForm
from wtforms import BooleanField, Field, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Optional, ValidationError

from ..scheduler.limits import MAX_EMAIL, MAX_PASSWORD
from ..validators import MaxLength, plain_text, strip
from .service import password_problem, username_problem

# One "@", something on each side, a dot inside the domain: the rest is the mail server's
# call. Used with fullmatch, and linear: "@" and whitespace end each run, so a failed match
# gives back each character once (the old `...+\.[^@\s]+$` retried every dot against
# every later one, minutes of CPU for 500 KB of dots).
EMAIL_RE = re.compile(r"[^@\s]+@([^@\s]+)")


def _rule(problem: Callable[[str], str | None]) -> Callable[[FlaskForm, Field], None]:
    """A WTForms validator from one of the account service's rules, so both say the same."""
    def validate(form: FlaskForm, field: Field) -> None:
        message = problem(field.data or "")
        if message:
            raise ValidationError(message)
    return validate


def email_problem(email: str) -> str | None:
    match = EMAIL_RE.fullmatch(email)
    if match is None or "." not in match.group(1)[1:-1]:
        return "Enter an email address like name@example.com."
    return None


class RegisterForm(FlaskForm):
    """SPEC §3 fields: username, email, password, confirm."""

    username = StringField(
        "Username", filters=[strip],
        validators=[DataRequired("Choose a username."), _rule(username_problem)],
        description="3–32 letters, digits, '_', '.' or '-'.",
        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false",
                   "maxlength": 32},
    )
    email = StringField(
        "Email (optional)", filters=[strip],
        validators=[Optional(), MaxLength(MAX_EMAIL), plain_text, _rule(email_problem)],
        render_kw={"autocomplete": "email", "type": "email", "maxlength": MAX_EMAIL},
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired("Choose a password."), MaxLength(MAX_PASSWORD),
                    _rule(password_problem)],
        description="At least 8 characters.",
        render_kw={"autocomplete": "new-password", "minlength": 8},
    )
    confirm = PasswordField(
        "Confirm password",
        validators=[DataRequired("Type the password again."), MaxLength(MAX_PASSWORD),
                    EqualTo("password", "The passwords do not match.")],
        render_kw={"autocomplete": "new-password"},
    )


class LoginForm(FlaskForm):
    """Username (any case) and password; `next` carries where to go afterwards."""

    username = StringField(
        "Username", filters=[strip], validators=[DataRequired("Enter your username.")],
        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"},
    )
    password = PasswordField(
        "Password", validators=[DataRequired("Enter your password."), MaxLength(MAX_PASSWORD)],
        render_kw={"autocomplete": "current-password"},
    )
    remember = BooleanField("Keep me logged in on this device")
    next = HiddenField()
