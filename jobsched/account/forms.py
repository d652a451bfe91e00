"""The form that names a new API token."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField

from ..validators import MaxLength, plain_text


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class TokenForm(FlaskForm):
    """A token's name only helps its owner recognise it later, so it is optional."""

    name = StringField(
        "Token name (optional)", filters=[_strip],
        validators=[MaxLength(100), plain_text],
        description="For example the script or machine that will use it.",
        render_kw={"maxlength": 100, "autocomplete": "off"},
    )
