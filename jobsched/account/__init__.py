"""The account page: the logged-in user's API tokens (create, list, revoke)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("account", __name__, url_prefix="/account")

from . import views  # noqa: E402,F401  (routes register on bp)
