"""Web pages for jobs: dashboard, the job form, a job's detail page."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("jobs", __name__)

from . import views  # noqa: E402,F401  (routes register on bp)
