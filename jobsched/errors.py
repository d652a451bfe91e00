"""Error pages for the web, JSON `{"message", "errors"}` under the API prefix."""
from __future__ import annotations

from flask import Flask, current_app, g, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from .security import form_too_large_message

API_PREFIX = "/jobs/api"


def wants_json() -> bool:
    return request.path.startswith(API_PREFIX) or request.path in ("/healthz", "/metrics")


def init_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return _respond(400, "The form expired or was not sent from this site; "
                             "reload the page and try again.")

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        response = _respond(error.code or 500, _page_message(error))
        if error.code == 405 and hasattr(error, "valid_methods") and error.valid_methods:
            response[0].headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        skip_user_loading()
        return _respond(500, "Internal server error.")


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
    from flask import make_response

    return make_response(render_template("error.html", code=code, message=message))
