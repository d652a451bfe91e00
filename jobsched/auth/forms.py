"""Register and log-in forms (Flask-WTF, so each carries a CSRF token)."""
from __future__ import annotations

import re
from collections.abc import Callable

from flask_wtf import FlaskForm
from wtforms import BooleanField, Field, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, ValidationError

from .service import password_problem, username_problem

# One "@", something on each side, a dot in the domain: the rest is the mail server's call.
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_PASSWORD = 1024  # hashing is slow on purpose; refuse megabyte "passwords"


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def _rule(problem: Callable[[str], str | None]) -> Callable[[FlaskForm, Field], None]:
    """A WTForms validator from one of the account service's rules, so both say the same."""
    def validate(form: FlaskForm, field: Field) -> None:
        message = problem(field.data or "")
        if message:
            raise ValidationError(message)
    return validate


def _email(form: FlaskForm, field: Field) -> None:
    if field.data and not EMAIL_RE.match(field.data):
        raise ValidationError("Enter an email address like name@example.com.")


class RegisterForm(FlaskForm):
    """SPEC §3 fields: username, email, password, confirm."""

    username = StringField(
        "Username", filters=[_strip],
        validators=[DataRequired("Choose a username."), _rule(username_problem)],
        description="3–32 letters, digits, '_', '.' or '-'.",
        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false",
                   "maxlength": 32},
    )
    email = StringField(
        "Email (optional)", filters=[_strip],
        validators=[Optional(), Length(max=254, message="Use at most 254 characters."), _email],
        render_kw={"autocomplete": "email", "type": "email", "maxlength": 254},
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired("Choose a password."), _rule(password_problem),
                    Length(max=MAX_PASSWORD, message=f"Use at most {MAX_PASSWORD} characters.")],
        description="At least 8 characters.",
        render_kw={"autocomplete": "new-password", "minlength": 8},
    )
    confirm = PasswordField(
        "Confirm password",
        validators=[DataRequired("Type the password again."),
                    EqualTo("password", "The passwords do not match.")],
        render_kw={"autocomplete": "new-password"},
    )


class LoginForm(FlaskForm):
    """Username (any case) and password; `next` carries where to go afterwards."""

    username = StringField(
        "Username", filters=[_strip], validators=[DataRequired("Enter your username.")],
        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"},
    )
    password = PasswordField(
        "Password", validators=[DataRequired("Enter your password.")],
        render_kw={"autocomplete": "current-password"},
    )
    remember = BooleanField("Keep me logged in on this device")
    next = HiddenField()
