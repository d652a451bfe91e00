"""The schedule form (`/schedules/new`): Flask-WTF for the CSRF token and the fields' own
checks; every rule of a schedule is then the service's (schedules/service.py), whose field
errors come back onto these fields."""
from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from .. import jsontext
from ..jobs.forms import PRIORITY_CHOICES, WholeNumberField
from ..scheduler.limits import NAME_MAX, TIMEOUT_RANGE
from ..scheduler.recurrence import CRON_MAX, DEFAULT_TIMEZONE, TIMEZONE_MAX, Overlap
from ..scheduler.states import Priority
from ..validators import strip
from .service import DEADLINE_SECONDS_RANGE

OVERLAP_CHOICES = [
    SelectChoice(Overlap.SKIP.value, "Skip a fire time while the previous job is active"),
    SelectChoice(Overlap.ALLOW.value, "Always make a job"),
]
TEMPLATE_FIELDS = ("task", "priority", "max_attempts", "timeout_seconds", "deadline_seconds")


class OptionalWholeNumber(WholeNumberField):
    """A whole number that may be left blank (None)."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        if valuelist and not str(valuelist[0]).strip():
            self.data = None
            return
        super().process_formdata(valuelist)


class ScheduleForm(FlaskForm):
    name = StringField("Name", filters=[strip],
                       validators=[DataRequired("Give the schedule a name."),
                                   Length(max=NAME_MAX)],
                       render_kw={"maxlength": NAME_MAX, "autocomplete": "off"})
    cron = StringField(
        "Cron", filters=[strip], default="0 * * * *",
        validators=[DataRequired("Give a cron expression."), Length(max=CRON_MAX)],
        description="Five fields: minute hour day-of-month month day-of-week, e.g. */5 * * * * "
                    "for every five minutes.",
        render_kw={"maxlength": CRON_MAX, "autocomplete": "off", "spellcheck": "false",
                   "aria-controls": "cron-preview"})
    timezone = StringField(
        "Time zone", filters=[strip], default=DEFAULT_TIMEZONE,
        validators=[DataRequired("Give a time zone."), Length(max=TIMEZONE_MAX)],
        description="An IANA name such as Europe/Berlin; the cron is read in it, daylight "
                    "saving included.",
        render_kw={"maxlength": TIMEZONE_MAX, "autocomplete": "off",
                   "aria-controls": "cron-preview"})
    overlap = SelectField("Overlap", choices=OVERLAP_CHOICES, default=Overlap.SKIP.value)
    enabled = BooleanField("Enabled", default=True)
    task = SelectField("Task")
    args_json = TextAreaField("Args as JSON", filters=[strip], default="{}",
                              description="A JSON object, e.g. {\"seconds\": 5}.",
                              render_kw={"rows": 3, "spellcheck": "false"})
    priority = SelectField("Priority", choices=PRIORITY_CHOICES, default=Priority.MEDIUM.value)
    max_attempts = WholeNumberField("Max attempts", default=3, validators=[Optional()])
    timeout_seconds = WholeNumberField("Timeout (seconds)", default=3600,
                                       validators=[Optional(), NumberRange(*TIMEOUT_RANGE)])
    deadline_seconds = OptionalWholeNumber(
        "Deadline (seconds after each fire time, optional)",
        validators=[Optional(), NumberRange(*DEADLINE_SECONDS_RANGE)])

    def use_tasks(self, names: list[str]) -> None:
        self.task.choices = [SelectChoice(name, name) for name in names]

    def payload(self) -> dict[str, Any]:
        """The API's body for this form; args that are no JSON at all raise ValueError."""
        try:
            args = jsontext.loads(self.args_json.data or "{}")
        except ValueError:
            raise ValueError("Not valid JSON.") from None
        job = {key: getattr(self, key).data for key in TEMPLATE_FIELDS
               if getattr(self, key).data is not None}
        return {"name": self.name.data, "cron": self.cron.data, "timezone": self.timezone.data,
                "overlap": self.overlap.data, "enabled": self.enabled.data,
                "job": {**job, "args": args}}

    def attach(self, errors: dict[str, str]) -> list[str]:
        """The service's field errors onto these fields; the rest are returned."""
        leftover = []
        for key, message in errors.items():
            name = key.removeprefix("job.")
            if name.startswith("args"):
                name, message = "args_json", f"{key.removeprefix('job.')}: {message}"
            field = getattr(self, name, None)
            if field is None or not hasattr(field, "errors"):
                leftover.append(f"{key}: {message}")
                continue
            field.errors = [*field.errors, message]
        return leftover
