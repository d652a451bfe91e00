"""POST /jobs/api/auth/token: trade a username and password for an API token (SPEC §3).

Rate limited like the login form: after 10 failures a minute for one username from one
address, every attempt answers 429 until the minute has passed.
"""
from __future__ import annotations

from flask import g, request
from flask_restx import Namespace, Resource
from werkzeug.exceptions import Unauthorized
from werkzeug.wrappers import Response

from ..auth.service import authenticate
from ..auth.tokens import issue_token
from ..extensions import db, limiter
from ..jobs.errors import ValidationFailed
from ..jobs.service import storable_problem
from .schemas import error_responses, token_in, token_out

ns = Namespace("auth", path="/auth", description="API tokens.")

TOKEN_LIMIT = "10 per minute"
DEFAULT_TOKEN_NAME = "API"


def token_limit_key() -> str:
    """Rate-limit bucket: the username tried (any case) plus the client's address."""
    body = request.get_json(silent=True)
    username = body.get("username") if isinstance(body, dict) else None
    name = username.strip().lower() if isinstance(username, str) else ""
    return f"api-token|{name}|{request.remote_addr or '-'}"


def token_failed(response: Response) -> bool:
    """Only failed attempts use up the limit."""
    return bool(g.get("token_failed"))


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
    @limiter.limit(TOKEN_LIMIT, key_func=token_limit_key, deduct_when=token_failed,
                   error_message="Too many failed attempts for this username. "
                                 "Wait a minute, then try again.")
    def post(self) -> tuple[dict[str, str], int]:
        """Issue an API token for a username and password."""
        body = request.get_json()
        _check_text(body)
        user = authenticate(db.session, body["username"], body["password"])
        if user is None:
            g.token_failed = True
            raise Unauthorized("Invalid username or password.")
        _, token = issue_token(db.session, user, body.get("name") or DEFAULT_TOKEN_NAME)
        return {"token": token}, 201
