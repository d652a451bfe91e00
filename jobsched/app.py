"""`create_app()`: the app factory. It wires the pieces (extensions, blueprints, error
handlers, commands) and starts nothing."""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dotenv import dotenv_values
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from config import ROOT, Config, settings_from_env

from . import favicon, health, security
from .account.views import bp as account_bp
from .admin.views import bp as admin_bp
from .api.views import bp as api_bp
from .auth import init_login
from .auth.views import bp as auth_bp
from .cli import init_commands
from .database import init_database
from .errors import init_error_handlers
from .extensions import csrf, db, limiter, login_manager, migrate, socketio
from .jobs.views import bp as jobs_bp
from .metrics.views import bp as metrics_bp
from .realtime import init_realtime
from .runtime import init_runtime
from .schedules.views import bp as schedules_bp
from .security import init_form_limit


def create_app(
    overrides: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
) -> Flask:
    """Build the app from defaults, the environment (plus `.env`), then `overrides`."""
    app = Flask(
        __name__, template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )
    app.config.from_object(Config)
    app.config.update(settings_from_env(env if env is not None else process_env(ROOT)))
    app.config.update(overrides or {})
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        Path(app.instance_path).mkdir(exist_ok=True)  # the default SQLite file lives there
    trust_proxies(app)
    register_extensions(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_commands(app)
    return app


def process_env(root: Path) -> dict[str, str]:
    """The process environment over the values of an optional `.env` file."""
    values = {k: v for k, v in dotenv_values(root / ".env").items() if v is not None}
    values.update(os.environ)
    return values


def trust_proxies(app: Flask) -> None:
    """Behind N reverse proxies, take the client's address and scheme from X-Forwarded-For
    and -Proto (rate limits key on the address; secure cookies need the scheme).

    Never X-Forwarded-Host: nginx passes a client's own X-Forwarded-Host through unless told
    otherwise, so trusting it would let a client pick the host Socket.IO's same-origin check
    compares with. The proxy passes the real Host instead (docs/deploy.md)."""
    hops = app.config.get("JOBSCHED_TRUSTED_PROXIES", 0)
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0)


def register_extensions(app: Flask) -> None:
    init_database(app, db)  # per-dialect engine options, SQLite pragmas and BEGIN modes
    migrate.init_app(app, db, render_as_batch=True, compare_type=True)
    init_login(login_manager, app)
    init_form_limit(app)  # before the CSRF check, which reads the form
    csrf.init_app(app)
    limiter.init_app(app)
    socketio.init_app(
        app,
        async_mode=socketio_async_mode(app),
        cors_allowed_origins=app.config.get("SOCKETIO_CORS_ORIGINS"),
        logger=False, engineio_logger=False,
    )
    init_runtime(app)
    init_realtime(app)


def socketio_async_mode(app: Flask) -> str:
    """eventlet for the web server; `flask ...` commands run without eventlet (no hub)."""
    if app.config.get("SOCKETIO_ASYNC_MODE"):
        return app.config["SOCKETIO_ASYNC_MODE"]
    return "threading" if os.environ.get("FLASK_RUN_FROM_CLI") else "eventlet"


def register_blueprints(app: Flask) -> None:
    app.register_blueprint(auth_bp)
    app.register_blueprint(jobs_bp)
    app.register_blueprint(schedules_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(account_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(favicon.bp)
    app.register_blueprint(metrics_bp)
    csrf.exempt(api_bp)  # the API checks X-CSRFToken itself, for cookie-authenticated calls
    security.init_security(app)


def register_error_handlers(app: Flask) -> None:
    init_error_handlers(app)


def register_commands(app: Flask) -> None:
    init_commands(app)
