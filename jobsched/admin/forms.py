"""The per-user limits form of /admin/users: empty means the deployment's default."""
from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectChoice, SelectField
from wtforms.validators import NumberRange, Optional
from wtforms.widgets import NumberInput

from ..models import User
from ..scheduler.limits import MAX_PENDING_PER_USER_RANGE, MAX_RUNNING_PER_USER_RANGE

# may_use_high as the form carries it; "" is null, the default.
HIGH_CHOICES = {"": None, "yes": True, "no": False}


def _limit(label: str, low: int, high: int) -> IntegerField:
    return IntegerField(label, validators=[
        Optional(), NumberRange(low, high, message=f"Use {low:,} to {high:,}, or leave empty "
                                                   f"for the default.")],
        widget=NumberInput(step=1, min=low, max=high))


class UserLimitsForm(FlaskForm):
    """One user's own limits; each form on the page has the user's id as its prefix."""

    max_running = _limit("Max running", *MAX_RUNNING_PER_USER_RANGE)
    max_pending = _limit("Max pending", *MAX_PENDING_PER_USER_RANGE)
    may_use_high = SelectField("High priority", choices=[
        SelectChoice("", "Default"), SelectChoice("yes", "Allowed"),
        SelectChoice("no", "Not allowed")])

    @classmethod
    def for_user(cls, user: User, formdata: Any = None) -> UserLimitsForm:
        """The form of `user`'s row, filled with their values (or the posted ones)."""
        high = {v: k for k, v in HIGH_CHOICES.items()}[user.may_use_high]
        return cls(formdata=formdata, prefix=f"user-{user.id}",
                   data={"max_running": user.max_running, "max_pending": user.max_pending,
                         "may_use_high": high})

    def limits(self) -> dict[str, Any]:
        """The limits as the service takes them (None: the default)."""
        return {"max_running": self.max_running.data, "max_pending": self.max_pending.data,
                "may_use_high": HIGH_CHOICES[self.may_use_high.data]}
