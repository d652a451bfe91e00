"""/jobs/api/users/{username}/limits: one user's own fair-use limits (SPEC §10), for admins.

null in a field means the deployment's default. A PUT may send any subset of the fields;
the ones left out keep their values.
"""
from __future__ import annotations

from typing import Any

from flask import request
from flask_restx import Namespace, Resource

from ..extensions import db
from ..jobs.user_limits import LIMIT_FIELDS, get_user_limits, limits_of, set_user_limits
from .auth import authenticated, caller
from .schemas import error_responses, limits_in, limits_out

ns = Namespace("users", path="/users", description="Per-user limits (admins).",
               decorators=[authenticated])


@ns.route("/<string:username>/limits", strict_slashes=False, endpoint="user_limits")
@ns.doc(params={"username": "The user's name (any case)."})
class UserLimits(Resource):
    @ns.response(200, "The user's own limits; null: the default.", limits_out)
    @error_responses(ns, 401, 403, 404)
    def get(self, username: str) -> dict[str, Any]:
        """Read one user's own limits (admins only)."""
        return limits_of(get_user_limits(db.session, caller(), username))

    @ns.expect(limits_in, validate=True)
    @ns.response(200, "The user's limits, as now stored.", limits_out)
    @error_responses(ns, 400, 401, 403, 404, 413, 415)
    def put(self, username: str) -> dict[str, Any]:
        """Set some or all of one user's limits (admins only); null restores the default.

        They take precedence over JOBSCHED_MAX_RUNNING_PER_USER (at the schedulers' next
        claim), JOBSCHED_MAX_PENDING_PER_USER and JOBSCHED_HIGH_PRIORITY.
        """
        body = request.get_json()
        changes = {key: body[key] for key in LIMIT_FIELDS if key in body}
        return limits_of(set_user_limits(db.session, caller(), username, changes))
