"""The REST API (SPEC §6) on flask-restx, mounted at /jobs/api."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/jobs/api")
