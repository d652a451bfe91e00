"""The job form (SPEC §8): the job's own fields, plus argument fields built from each task's
JSON Schema, plus a raw JSON fallback for args no field can describe.

Field-level checks here only make input typeable (numbers are numbers, JSON parses); the
rules themselves are the job service's and the task schema's, and their messages are
attached to the same fields (`attach_errors`), so every problem shows next to its input.
"""
from __future__ import annotations

import json
import math
from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    Field,
    FloatField,
    Form,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.core import UnboundField
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    StopValidation,
)
from wtforms.widgets import NumberInput

from .. import jsontext
from ..jsontext import JsonTooDeep
from ..scheduler.limits import (
    ATTEMPTS_RANGE,
    CONCURRENCY_KEY_MAX,
    CONCURRENCY_LIMIT_MAX,
    CONCURRENCY_LIMIT_MIN,
    DEFAULT_CONCURRENCY_LIMIT,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_TIMEOUT_SECONDS,
    MAX_DESCRIPTION,
    NAME_MAX,
    TIMEOUT_RANGE,
    UNIQUE_KEY_MAX,
)
from ..scheduler.registry import Task
from ..scheduler.states import Priority
from ..validators import MaxLength, strip
from .depends import MAX_DEPENDS_ON

LONG_TEXT = 200  # string args allowed to be longer than this get a text area
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]
PRIORITY_CHOICES = [SelectChoice(p.value, p.value.capitalize()) for p in Priority]
JOB_FIELDS = ("name", "description", "task", "priority", "deadline", "run_at", "max_attempts",
              "timeout_seconds", "concurrency_key", "concurrency_limit", "unique_key",
              "depends_on")


class UtcDateTimeField(DateTimeLocalField):
    """A date and time typed without a zone, read as UTC (SPEC §4: naive input is UTC)."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError("Enter a date and time, e.g. 2030-01-31 17:00.") from None


class WholeNumberField(IntegerField):
    """An integer field that, when the input is no integer at all, says only that."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError("Enter a whole number.") from None

    def pre_validate(self, form: Form) -> None:
        if self.process_errors:
            raise StopValidation()  # a range check of nothing would only repeat the problem


class JobIdsField(StringField):
    """Job ids typed as "12, 15 18" (commas or spaces), as a list of ints; empty: none."""

    data: list[int]

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = []
        words = " ".join(valuelist).replace(",", " ").split()
        if not all(word.isascii() and word.isdigit() and len(word) <= 10 for word in words):
            raise ValueError("Enter job ids separated by commas, e.g. 12, 15.")
        ids = list(dict.fromkeys(int(word) for word in words))
        if len(ids) > MAX_DEPENDS_ON:
            raise ValueError(f"Depend on at most {MAX_DEPENDS_ON} jobs.")
        self.data = ids

    def _value(self) -> str:
        if self.raw_data:  # as typed, so a mistake can be corrected in place
            return str(self.raw_data[0])
        return ", ".join(map(str, self.data or []))


class JobForm(FlaskForm):
    """Everything a job has except its args, which the task's own fields carry."""

    name = StringField(
        "Name", filters=[strip],
        validators=[DataRequired("Give the job a name."),
                    Length(max=NAME_MAX, message=f"Use at most {NAME_MAX} characters.")],
        render_kw={"maxlength": NAME_MAX, "autocomplete": "off"},
    )
    description = TextAreaField(
        "Description (optional)", validators=[MaxLength(MAX_DESCRIPTION)],
        render_kw={"rows": 2, "maxlength": MAX_DESCRIPTION},
    )
    task = SelectField("Task", description="What the job runs; its arguments follow.")
    args_json = TextAreaField(
        "Args as JSON (optional)", filters=[strip],
        description="A JSON object such as {\"seconds\": 5}. When filled in, it is used "
                    "instead of the argument fields above.",
        render_kw={"rows": 3, "spellcheck": "false", "autocapitalize": "none"},
    )
    priority = SelectField("Priority", choices=PRIORITY_CHOICES, default=Priority.MEDIUM.value,
                           description="High runs before medium, medium before low.")
    deadline = UtcDateTimeField(
        "Deadline (UTC, optional)", format=DATETIME_FORMATS, validators=[Optional()],
        description="Within a priority, the earliest deadline runs first.",
    )
    run_at = UtcDateTimeField(
        "Run at (UTC, optional)", format=DATETIME_FORMATS, validators=[Optional()],
        description="The job is not started before this time.",
    )
    max_attempts = WholeNumberField(
        "Max attempts", default=DEFAULT_MAX_ATTEMPTS,
        validators=[InputRequired("Enter a number of attempts."),
                    NumberRange(*ATTEMPTS_RANGE, message="Use 1 to 25 attempts.")],
        widget=NumberInput(step=1, min=ATTEMPTS_RANGE[0], max=ATTEMPTS_RANGE[1]),
        description="A failed attempt is retried, with a growing pause, until these run out.",
    )
    timeout_seconds = WholeNumberField(
        "Timeout (seconds)", default=DEFAULT_TIMEOUT_SECONDS,
        validators=[InputRequired("Enter a timeout in seconds."),
                    NumberRange(*TIMEOUT_RANGE, message="Use 1 to 86400 seconds.")],
        widget=NumberInput(step=1, min=TIMEOUT_RANGE[0], max=TIMEOUT_RANGE[1]),
        description="An attempt running longer than this is stopped and counts as failed.",
    )
    concurrency_key = StringField(
        "Concurrency key (optional)", filters=[strip],
        validators=[MaxLength(CONCURRENCY_KEY_MAX)],
        render_kw={"maxlength": CONCURRENCY_KEY_MAX, "autocomplete": "off",
                   "placeholder": "e.g. deploy-prod"},
        description="Your jobs with the same key share its concurrency limit, e.g. one "
                    "deploy-prod at a time. Empty: no key.",
    )
    depends_on = JobIdsField(
        "Depends on (optional)",
        render_kw={"autocomplete": "off", "inputmode": "numeric", "placeholder": "e.g. 12, 15"},
        description="Ids of jobs that must complete first; if one fails or is cancelled, "
                    "this job is cancelled too.",
    )
    unique_key = StringField(
        "Unique key (optional)", filters=[strip],
        validators=[MaxLength(UNIQUE_KEY_MAX)],
        render_kw={"maxlength": UNIQUE_KEY_MAX, "autocomplete": "off",
                   "placeholder": "e.g. report-2030-01-31"},
        description="While a job of yours with this key is pending or running, another one "
                    "with it is refused. Empty: no key.",
    )
    concurrency_limit = WholeNumberField(
        "Concurrency limit", default=DEFAULT_CONCURRENCY_LIMIT,
        validators=[InputRequired("Enter how many may run at once."),
                    NumberRange(CONCURRENCY_LIMIT_MIN, CONCURRENCY_LIMIT_MAX,
                                message=f"Use {CONCURRENCY_LIMIT_MIN} to "
                                        f"{CONCURRENCY_LIMIT_MAX} jobs at once.")],
        widget=NumberInput(step=1, min=CONCURRENCY_LIMIT_MIN, max=CONCURRENCY_LIMIT_MAX),
        description="At most this many of your jobs with this key run at once.",
    )

    def use_tasks(self, tasks: list[Task]) -> None:
        """Offer these tasks (the ones the user may run) in the task menu."""
        self.task.choices = [
            SelectChoice(task.name,
                         f"{task.name} — {task.description}" if task.description else task.name)
            for task in tasks
        ]
        if not self.task.data and tasks:
            self.task.data = "sleep" if any(t.name == "sleep" for t in tasks) else tasks[0].name

    def offer_high(self, allowed: bool) -> None:
        """Disable the High option for a user who may not use it (SPEC §10); a high
        priority posted anyway gets the service's error at this field."""
        if allowed:
            return
        self.priority.choices = [
            SelectChoice(c.value, f"{c.label} (admins only)", render_kw={"disabled": True})
            if c.value == Priority.HIGH.value else c for c in PRIORITY_CHOICES
        ]

    def job_fields(self) -> dict[str, Any]:
        """The job's own fields as the job service takes them."""
        return {
            "name": self.name.data, "description": self.description.data or "",
            "task": self.task.data, "priority": self.priority.data,
            "deadline": self.deadline.data, "run_at": self.run_at.data,
            "max_attempts": self.max_attempts.data,
            "timeout_seconds": self.timeout_seconds.data,
            "concurrency_key": self.concurrency_key.data or None,  # empty: no key
            "concurrency_limit": self.concurrency_limit.data,
            "unique_key": self.unique_key.data or None,  # empty: no key
            "depends_on": self.depends_on.data or [],
        }


# -- argument fields from a task's schema ------------------------------------------------------


class FiniteFloatField(FloatField):
    """A number field that refuses NaN and infinities (JSON cannot hold them)."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        super().process_formdata(valuelist)
        if isinstance(self.data, float) and not math.isfinite(self.data):
            self.data = None
            raise ValueError("Enter a finite number.")


class JsonArgField(TextAreaField):
    """An argument typed as JSON. With `text_fallback` (an argument of any type), text that
    is not JSON is taken as a string, so `hello` and `"hello"` mean the same."""

    def __init__(self, label: str | None = None, validators: Any = None,
                 text_fallback: bool = False, **kwargs: Any) -> None:
        super().__init__(label, validators, **kwargs)
        self.text_fallback = text_fallback

    def process_formdata(self, valuelist: list[Any]) -> None:
        text = valuelist[0] if valuelist else ""
        self.data = None
        if not text.strip():
            return
        try:
            self.data = jsontext.loads(text)
        except JsonTooDeep as error:
            raise ValueError(f"This JSON {error}.") from None
        except ValueError:
            if not self.text_fallback:
                raise ValueError('Enter JSON, e.g. {"key": 1} or [1, 2].') from None
            self.data = text

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        if self.data is None:
            return ""
        if self.text_fallback and isinstance(self.data, str):
            return self.data
        return json.dumps(self.data)


def _number_widget(spec: dict[str, Any], step: int | str) -> NumberInput:
    return NumberInput(step=step, min=spec.get("minimum"), max=spec.get("maximum"))


def arg_field(spec: dict[str, Any], label: str, required: bool) -> UnboundField:
    """One input for one schema property, typed after the property's `type`."""
    requirement = InputRequired(f"{label} is required.") if required else Optional()
    common: dict[str, Any] = {"description": spec.get("description", ""),
                              "default": spec.get("default"), "validators": [requirement]}
    kind = spec.get("type")
    enum = spec.get("enum")
    if isinstance(enum, list) and enum and all(isinstance(v, str) for v in enum):
        choices = ([] if required else [SelectChoice("", "(default)")])
        choices += [SelectChoice(v) for v in enum]
        return SelectField(label, choices=choices, **common)
    if kind == "boolean":
        return BooleanField(label, description=common["description"],
                            default=bool(spec.get("default")))
    if kind == "integer":
        return IntegerField(label, widget=_number_widget(spec, 1), **common)
    if kind == "number":
        return FiniteFloatField(label, widget=_number_widget(spec, "any"), **common)
    if kind == "string":
        long = spec.get("maxLength", LONG_TEXT + 1) > LONG_TEXT
        return (TextAreaField if long else StringField)(label, render_kw={"rows": 2}, **common)
    text_fallback = kind is None
    hint = "Typed as JSON; other text is taken as a string." if text_fallback else "Typed as JSON."
    common["description"] = " ".join(filter(None, [common["description"], hint]))
    return JsonArgField(label, text_fallback=text_fallback, render_kw={"rows": 2}, **common)


def args_form_class(task: Task) -> type[Form]:
    """A form with one field per top-level property of the task's args schema."""
    properties = task.schema.get("properties") or {}
    required = set(task.schema.get("required") or [])
    fields = {
        name: arg_field(spec, str(spec.get("title") or name), name in required)
        for name, spec in properties.items() if isinstance(spec, dict)
    }
    return type(f"ArgsForm_{task.name}", (Form,), fields)


def args_form(task: Task, formdata: Any) -> Form:
    """The task's argument form, its inputs named `args-<task>-<property>`."""
    return args_form_class(task)(formdata=formdata, prefix=f"args-{task.name}")


def _typed(field: Field) -> bool:
    """Whether the user typed something (an empty input means "use the default")."""
    if isinstance(field, BooleanField):
        return True
    return bool(field.raw_data and str(field.raw_data[0]).strip())


def collected_args(form: Form) -> dict[str, Any]:
    """The args the argument fields describe; untouched optional ones are left out."""
    args: dict[str, Any] = {}
    for name, field in form._fields.items():
        if _typed(field):
            value = field.data
            if isinstance(value, float) and value.is_integer():
                value = int(value)  # 5, not 5.0: both match "number", the first reads better
            args[name] = value
    return args


def raw_args(field: Field) -> dict[str, Any] | None:
    """The JSON object typed in the raw args field, or None (with an error on the field)."""
    try:
        value = jsontext.loads(field.data)
    except JsonTooDeep as error:
        field.errors = [*field.errors, f"This JSON {error}."]
        return None
    except ValueError as error:
        field.errors = [*field.errors, f"Not valid JSON: {error}."]
        return None
    if not isinstance(value, dict):
        field.errors = [*field.errors, 'Enter a JSON object, e.g. {"seconds": 5}.']
        return None
    return value


def attach_errors(
    form: JobForm, args: Form | None, errors: dict[str, str], raw: bool
) -> list[str]:
    """Put the service's field errors on the fields they concern; return the rest."""
    leftover: list[str] = []
    for key, message in errors.items():
        field, text = _error_target(form, args, key, raw), message
        if field is None:
            leftover.append(message if key == "args" else f"{key}: {message}")
            continue
        if field is form.args_json and key.startswith("args."):
            text = f"{key.removeprefix('args.')}: {message}"
        field.errors = [*field.errors, text]
    return leftover


def _error_target(form: JobForm, args: Form | None, key: str, raw: bool) -> Field | None:
    if key in JOB_FIELDS:
        return form[key]
    if key == "args" or key.startswith("args."):
        if raw:
            return form.args_json
        prop = key.removeprefix("args.").split(".")[0] if key != "args" else ""
        if args is not None and prop in args._fields:
            return args[prop]
    return None
