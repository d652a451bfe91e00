"""Pages for administrators only: the scheduler nodes (SPEC §8 /admin/nodes)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from . import views  # noqa: E402,F401  (routes register on bp)
