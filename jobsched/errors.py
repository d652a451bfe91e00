"""Error pages for the web, JSON `{"message", "errors"}` under the API prefix.

A database that cannot be reached (stopped, restarting, the network between) answers 503
with Retry-After on every route, API and pages alike, never a 500: the next request after
it returns works again by itself (the pool tests each connection before handing it out).
"""
from __future__ import annotations

from flask import Flask, current_app, g, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from .security import form_too_large_message

API_PREFIX = "/jobs/api"
_OWN_HEADERS = frozenset({"content-type", "content-length"})  # the page's, not the error's
SECURE_COOKIE_OVER_HTTP = (
    "This site marks its cookies Secure, and this page came over plain HTTP, so your "
    "browser did not send the form's session back. Serve the site over HTTPS (behind a "
    "proxy, set JOBSCHED_TRUSTED_PROXIES so that the app sees it), or, for a trial on a "
    "private network, set JOBSCHED_SECURE_COOKIES=0."
)
DATABASE_AWAY = "The database cannot be reached just now. Try again in a few seconds."
DATABASE_RETRY_AFTER_SECONDS = 5


def wants_json() -> bool:
    return request.path.startswith(API_PREFIX) or request.path in ("/healthz", "/metrics")


def init_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        if secure_cookie_lost():
            app.logger.warning("a form came over plain HTTP while cookies are Secure: %s %s",
                               request.method, request.path)
            return _respond(400, SECURE_COOKIE_OVER_HTTP)
        return _respond(400, "The form expired or was not sent from this site; "
                             "reload the page and try again.")

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        response = _respond(error.code or 500, _page_message(error))
        # The exception's own headers stay: Allow on a 405, Retry-After on a 429.
        for name, value in error.get_headers():
            if name.lower() not in _OWN_HEADERS:
                response[0].headers[name] = value
        return response

    @app.errorhandler(DBAPIError)
    def database_error(error: DBAPIError):
        if not database_away(error):
            return unexpected_error(error)
        app.logger.warning("database unreachable on %s %s: %s", request.method, request.path,
                           str(error.orig or error).strip().splitlines()[0])
        skip_user_loading()
        response, code = _respond(503, DATABASE_AWAY)
        response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
        return response, code

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        skip_user_loading()
        return _respond(500, "Internal server error.")


def database_away(error: DBAPIError) -> bool:
    """Whether a database error says the server could not be used (refused, lost, shut
    down, SQLite's file locked) rather than that a statement was wrong: only a retry, later,
    can help."""
    return isinstance(error, OperationalError | InterfaceError) or error.connection_invalidated


def secure_cookie_lost() -> bool:
    """True when a CSRF check failed because the session cookie is Secure and the request
    came over plain HTTP: browsers never send such a cookie back, so no form can pass. A
    request that did bring the cookie came from a browser on HTTPS (a proxy in front that
    JOBSCHED_TRUSTED_PROXIES does not name): its form really expired."""
    return (bool(current_app.config.get("SESSION_COOKIE_SECURE")) and not request.is_secure
            and current_app.config["SESSION_COOKIE_NAME"] not in request.cookies)


def _page_message(error: HTTPException) -> str:
    """The error's description; Werkzeug's own 413 ("the data value transmitted exceeds the
    capacity limit") is reworded for the person whose form was too large."""
    if (isinstance(error, RequestEntityTooLarge) and not wants_json()
            and error.description == RequestEntityTooLarge.description):
        return form_too_large_message(current_app.config["MAX_FORM_MEMORY_SIZE"])
    return error.description or error.name


def skip_user_loading() -> None:
    """The failure may be the database itself; Flask-Login's template context would load the
    user again and fail again, so a user not loaded yet is shown the page as a visitor."""
    if "_login_user" not in g:  # where Flask-Login keeps the request's user
        g._login_user = current_app.login_manager.anonymous_user()


def _respond(code: int, message: str):
    if wants_json():
        response = jsonify(message=message, errors={})
    else:
        response = app_page(code, message)
    response.status_code = code
    return response, code


def app_page(code: int, message: str):
    return make_response(render_template("error.html", code=code, message=message))
