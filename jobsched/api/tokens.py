"""POST /jobs/api/auth/token: trade a username and password for an API token (SPEC §3).

It spends from the login form's failed-login budget (auth/budget.py): after 10 failures a
minute for one username from one address, on either, every attempt answers 429 until the
minute has passed.
"""
from __future__ import annotations

from flask import request
from flask_restx import Namespace, Resource
from werkzeug.exceptions import Unauthorized

from ..auth.budget import checked
from ..auth.service import authenticate
from ..auth.tokens import issue_token
from ..extensions import db
from ..jobs.errors import ValidationFailed
from ..jobs.service import storable_problem
from .schemas import error_responses, token_in, token_out

ns = Namespace("auth", path="/auth", description="API tokens.")

DEFAULT_TOKEN_NAME = "API"


def _check_text(body: dict[str, str]) -> None:
    """Refuse text no password check or database can take (NUL, lone surrogates)."""
    errors = {key: problem for key, value in body.items()
              if (problem := storable_problem(value))}
    if errors:
        raise ValidationFailed(errors, "Input payload validation failed.")


@ns.route("/token", strict_slashes=False, endpoint="token")
class TokenIssue(Resource):
    @ns.doc(security=[])
    @ns.expect(token_in, validate=True)
    @ns.response(201, "A new token; it is shown only this once.", token_out)
    @error_responses(ns, 400, 401, 413, 415, 429)
    def post(self) -> tuple[dict[str, str], int]:
        """Issue an API token for a username and password (failures share the login
        form's budget: 429 after 10 a minute for one username from one address)."""
        body = request.get_json()
        _check_text(body)
        username, password = body["username"], body["password"]
        user = checked(username, lambda: authenticate(db.session, username, password))
        if user is None:
            raise Unauthorized("Invalid username or password.")
        _, token = issue_token(db.session, user, body.get("name") or DEFAULT_TOKEN_NAME)
        return {"token": token}, 201
