"""Accounts: registration, login, API tokens, and how a request is authenticated."""
from __future__ import annotations

from flask import Flask, jsonify, redirect, request, url_for
from flask_login import LoginManager

from ..extensions import db
from ..models import User
from .tokens import user_for_token

API_PREFIX = "/jobs/api"


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def token_path(path: str) -> bool:
    """Where a Bearer token authenticates: the API and /metrics."""
    return path == API_PREFIX or path.startswith(API_PREFIX + "/") or path == "/metrics"


def user_for_login_id(login_id: str) -> User | None:
    """The user a session or remember cookie names ("<id>:<session version>", User.get_id),
    or None once the user's session version moved on (or the id has another form, as the
    bare ids of sessions older than session versions do)."""
    user_id, _, version = login_id.partition(":")
    if not (user_id.isdigit() and version.isdigit()):
        return None
    user = db.session.get(User, int(user_id))
    return user if user is not None and user.session_version == int(version) else None


def init_login(login_manager: LoginManager, app: Flask) -> None:
    """Session users for pages, Bearer tokens for the API, 401 JSON instead of a redirect."""
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(login_id: str) -> User | None:
        return user_for_login_id(login_id)

    @login_manager.request_loader
    def load_user_from_token(req) -> User | None:
        # Tokens are for the API only: a page (and its CSRF-protected forms, such as
        # creating more tokens) must never be reachable with a token alone.
        if not token_path(req.path):
            return None
        token = bearer_token()
        return user_for_token(db.session, token) if token else None

    @login_manager.unauthorized_handler
    def unauthorized():
        if request.path.startswith(API_PREFIX) or request.path == "/metrics":
            return jsonify(message="Authentication required: log in or send "
                                   "'Authorization: Bearer <token>'.", errors={}), 401
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
