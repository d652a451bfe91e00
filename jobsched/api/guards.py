"""Checks every API request passes before a resource runs.

They refuse, with SPEC's 400 or 413, input that no resource could handle safely: a body over
the size limit, a JSON body that does not parse (or uses NaN/Infinity, which JSON does not
have, or nests deeper than MAX_JSON_DEPTH), query text the databases cannot store.
"""
from __future__ import annotations

from flask import Blueprint, current_app, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

from .. import jsontext
from ..jobs.errors import ValidationFailed

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def init_guards(bp: Blueprint) -> None:
    """Run `check_request` before every request to the blueprint's routes."""
    bp.before_request(check_request)


def check_request() -> None:
    """Refuse oversized bodies, invalid JSON bodies and unstorable query text."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit is not None and (request.content_length or 0) > limit:
        raise RequestEntityTooLarge()  # even where the body would never be read
    _check_query()
    if request.method in BODY_METHODS and request.is_json:
        _check_json(request.get_data(cache=True))


def _check_query() -> None:
    for name, value in request.args.items(multi=True):
        if "\x00" in value:
            raise ValidationFailed({name: "May not contain NUL characters."},
                                   "Invalid query parameters.")


def _check_json(data: bytes) -> None:
    """An empty body is no body; anything else must be strict JSON, at most MAX_JSON_DEPTH
    deep (measured before parsing, so no depth reaches the parser's recursion)."""
    if not data.strip():
        return
    try:
        jsontext.loads(data)
    except jsontext.JsonTooDeep as error:
        raise BadRequest(f"The body {error}.") from None
    except ValueError as error:
        raise BadRequest(f"The body is not valid JSON: {str(error)[:200]}") from None
