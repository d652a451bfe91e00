"""WTForms validators the page forms share.

WTForms runs every validator of a field even after one has failed; only StopValidation
ends the chain. A length check that should protect a costlier check after it (a pattern,
a parse, a hash) must therefore stop the chain itself: `MaxLength` does.
"""
from __future__ import annotations

import re

from flask_wtf import FlaskForm
from wtforms import Field
from wtforms.validators import StopValidation, ValidationError

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # Unicode's control characters (category Cc)


class MaxLength:
    """At most `limit` characters; longer input stops the field's validation here."""

    def __init__(self, limit: int, message: str | None = None) -> None:
        self.limit = limit
        self.message = message or f"Use at most {limit:,} characters."

    def __call__(self, form: FlaskForm, field: Field) -> None:
        if isinstance(field.data, str) and len(field.data) > self.limit:
            raise StopValidation(self.message)


def plain_text(form: FlaskForm, field: Field) -> None:
    """No control characters: NUL cannot be stored in PostgreSQL text, and the others
    (escape sequences, line breaks in a one-line value) have no business in a name."""
    if isinstance(field.data, str) and CONTROL.search(field.data):
        raise ValidationError("Remove the control characters (such as NUL or line breaks).")


def strip(value: str | None) -> str | None:
    """A filter: surrounding whitespace is never part of a name, username or JSON text."""
    return value.strip() if isinstance(value, str) else value
