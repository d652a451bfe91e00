"""/jobs/api/auth/…: trade a username and password for an API token (SPEC §3), list your
tokens and revoke one (SPEC §14).

POST /auth/token spends from the login form's failed-login budget (auth/budget.py): after 10
failures a minute for one username from one address, on either, every attempt answers 429
until the minute has passed.
"""
from __future__ import annotations

from typing import Any

from flask import Response, request
from flask_restx import Namespace, Resource
from werkzeug.exceptions import NotFound, Unauthorized

from ..auth.budget import checked
from ..auth.logins import revoke
from ..auth.service import authenticate
from ..auth.tokens import issue_token, list_tokens
from ..extensions import db
from ..jobs.errors import ValidationFailed
from ..jobs.serialize import iso
from ..models import ApiToken
from ..scheduler.storable import storable_problem
from .auth import authenticated, caller
from .schemas import error_out, error_responses, token_in, token_list, token_out

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


def token_to_json(token: ApiToken) -> dict[str, Any]:
    """A token as scripts see it: never its secret, nor even the digest."""
    return {"id": token.id, "name": token.name, "created_at": iso(token.created_at),
            "last_used_at": iso(token.last_used_at)}


@ns.route("/tokens", strict_slashes=False, endpoint="tokens")
class TokenList(Resource):
    method_decorators = [authenticated]

    @ns.response(200, "Your live tokens, newest first.", token_list)
    @error_responses(ns, 401)
    def get(self) -> dict[str, Any]:
        """List your live API tokens (without their secrets)."""
        return {"items": [token_to_json(t) for t in list_tokens(db.session, caller(),
                                                                 live_only=True)]}


@ns.route("/tokens/<int:token_id>", strict_slashes=False, endpoint="token_item")
@ns.doc(params={"token_id": "The token's id (from GET /auth/tokens)."})
class TokenItem(Resource):
    method_decorators = [authenticated]

    @ns.response(204, "Revoked; sockets opened with it are closed on every web node.")
    @ns.response(404, "No such live token of yours.", error_out)
    @error_responses(ns, 400, 401)
    def delete(self, token_id: int) -> Response:
        """Revoke one of your tokens: requests and live connections using it are refused."""
        if not revoke(caller(), token_id):
            raise NotFound("No such live token on your account.")
        return Response(status=204, mimetype="application/json")  # the API speaks only JSON
