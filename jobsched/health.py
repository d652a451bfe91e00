"""GET /healthz (SPEC §9): is the database reachable, and Redis if configured."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from .extensions import db, limiter

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@limiter.exempt
def healthz():
    database = _check(lambda: db.session.execute(text("SELECT 1")))
    if database != "ok":
        db.session.rollback()
    redis_url = current_app.config.get("REDIS_URL")
    redis_state = "disabled" if not redis_url else _check(lambda: _ping_redis(redis_url))
    status = 200 if database == "ok" else 503
    body = {"status": "ok" if status == 200 else "degraded", "database": database,
            "redis": redis_state}
    return jsonify(body), status


def _check(probe) -> str:
    try:
        probe()
    except Exception:
        return "down"
    return "ok"


def _ping_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        client.ping()
    finally:
        client.close()
