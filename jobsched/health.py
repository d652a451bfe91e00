"""GET /healthz (SPEC §9): is the database reachable, and Redis if configured."""
from __future__ import annotations

from typing import TYPE_CHECKING

import redis
from flask import Blueprint, Flask, current_app, jsonify
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import text

from .extensions import db, limiter

if TYPE_CHECKING:
    import redis

bp = Blueprint("health", __name__)

REDIS_CLIENT = "jobsched.health_redis"
REDIS_TIMEOUT_SECONDS = 1


@bp.get("/healthz")
@limiter.exempt
def healthz():
    database = _check(lambda: db.session.execute(text("SELECT 1")))
    if database != "ok":
        db.session.rollback()
    redis_url = current_app.config.get("REDIS_URL")
    redis_state = "disabled" if not redis_url else _check(lambda: _ping_redis(current_app))
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


def _ping_redis(app: Flask) -> None:
    _redis_client(app).ping()


def _redis_client(app: Flask) -> redis.Redis:
    """The app's health-check client, made on first use. Its pool keeps the connection
    between checks (a new one per check was most of a check's time) and replaces a broken
    one by itself, so the check recovers as soon as Redis is back."""
    client = app.extensions.get(REDIS_CLIENT)
    if client is None:
        # Two first requests at once may both build one; setdefault keeps a single winner
        # (the loser never connected, so it holds nothing to close).
        client = app.extensions.setdefault(REDIS_CLIENT, _new_redis_client(app))
    return client


def _new_redis_client(app: Flask) -> redis.Redis:
    # One immediate retry: a pooled connection that Redis dropped (a restart) fails once
    # and the retry reconnects. More retries, with redis-py's default backoff, would only
    # make a check of a Redis that is really down take seconds instead of failing fast.
    return redis.Redis.from_url(
        app.config["REDIS_URL"], socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS, retry=Retry(NoBackoff(), 1),
    )
