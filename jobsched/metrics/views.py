"""`GET /metrics`: Prometheus text for scrapers. It exposes aggregates only (counts and
timings, never job names or users); open as scrapes usually are, unless
JOBSCHED_METRICS_TOKEN asks for a Bearer token (metrics/guard.py)."""
from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from flask.blueprints import BlueprintSetupState
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from ..extensions import db, limiter
from .database import QueueCollector
from .guard import CHALLENGE, UNAUTHORIZED_MESSAGE, scrape_allowed
from .process import process_metrics

bp = Blueprint("metrics", __name__)

REGISTRY = "jobsched.metrics"


def build_registry(app: Flask) -> CollectorRegistry:
    """The app's registry: the database's queue metrics plus this process's series."""
    with app.app_context():
        engine = db.engine
    registry = CollectorRegistry(auto_describe=True)
    registry.register(QueueCollector(engine, app.config["JOBSCHED_MAX_CONCURRENT_JOBS"]))
    registry.register(process_metrics().registry)
    return registry


@bp.record
def _install(state: BlueprintSetupState) -> None:
    state.app.extensions[REGISTRY] = build_registry(state.app)


@bp.get("/metrics")
@limiter.exempt
def metrics() -> Response:
    """The metrics in the format the scraper asks for (Prometheus text by default)."""
    if not scrape_allowed(request.headers.get("Authorization"),
                          current_app.config.get("JOBSCHED_METRICS_TOKEN")):
        refused = jsonify(message=UNAUTHORIZED_MESSAGE, errors={})
        refused.status_code = 401
        refused.headers["WWW-Authenticate"] = CHALLENGE
        return refused
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    body = encode(current_app.extensions[REGISTRY])
    return Response(body, content_type=content_type, headers={"Cache-Control": "no-store"})
