"""Page views; they read through jobs/queries.py and change through jobs/service.py."""
from __future__ import annotations

from flask import render_template
from flask_login import login_required

from . import bp


@bp.get("/")
@login_required
def dashboard():
    return render_template("jobs/dashboard.html")
