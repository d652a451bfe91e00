"""The building blocks of the API's models: nullable fields, strict input models that name
each offending field, response fields, and pages.

Swagger 2.0 has no `null` type, so a field that may be null carries `x-nullable`.
"""
from __future__ import annotations

from typing import Any

from flask_restx import Model, fields
from jsonschema import Draft202012Validator

from ..jobs.errors import ValidationFailed


class _Nullable:
    """Mixin: the field may be null (Swagger 2.0 writes that as `x-nullable`)."""

    def schema(self) -> dict[str, Any]:
        return {**super().schema(), "x-nullable": True}  # type: ignore[misc]


class NullableString(_Nullable, fields.String):
    pass


class NullableInteger(_Nullable, fields.Integer):
    pass


class NullableFloat(_Nullable, fields.Float):
    pass


class NullableBoolean(_Nullable, fields.Boolean):
    pass


class NullableDateTime(_Nullable, fields.DateTime):
    pass


class AnyJson(_Nullable, fields.Raw):
    """Any JSON value at all (a task's result): no type constraint."""

    __schema_type__ = None


class StrictModel(Model):
    """A strict input model whose validation names each offending field (SPEC's errors)."""

    def validate(self, data: Any, resolver: Any = None, format_checker: Any = None) -> None:
        validator = Draft202012Validator(_admitting_null(self.__schema__))
        errors: dict[str, str] = {}
        for error in validator.iter_errors(data):
            for field, message in _field_messages(error, data):
                errors.setdefault(field, message)
        if errors:
            raise ValidationFailed(errors, "Input payload validation failed.")


def _admitting_null(schema: dict[str, Any]) -> dict[str, Any]:
    """The model's schema as JSON Schema proper: `x-nullable` properties also accept null."""
    properties = {
        name: {**prop, "type": [prop["type"], "null"]} if prop.get("x-nullable") else prop
        for name, prop in schema.get("properties", {}).items()
    }
    return {**schema, "properties": properties}


def _field_messages(error: Any, data: Any) -> list[tuple[str, str]]:
    """(field, why) pairs for one schema error; unknown fields are named one by one."""
    if error.validator == "additionalProperties" and isinstance(data, dict):
        known = error.schema.get("properties", {})
        return [(key, "Unknown or read-only field.") for key in data if key not in known]
    if error.validator == "required":
        return [(str(missing), "Required.") for missing in error.validator_value
                if isinstance(data, dict) and missing not in data]
    path = ".".join(str(part) for part in error.absolute_path)
    return [(path or "body", _message(error))]


def _message(error: Any) -> str:
    if error.validator == "type" and not error.absolute_path:
        return "Send a JSON object."
    return error.message[:300]


def out(field: type[fields.Raw], **kwargs: Any) -> fields.Raw:
    """A response field: always present, never written by clients."""
    return field(required=True, readonly=True, **kwargs)


def page_of(name: str, item: Model) -> Model:
    """One page of a paged list: its items, how many there are in all, and where it is."""
    return Model(name, {
        "items": out(fields.List, cls_or_instance=fields.Nested(item)),
        "total": out(fields.Integer),
        "page": out(fields.Integer),
        "per_page": out(fields.Integer),
    })
