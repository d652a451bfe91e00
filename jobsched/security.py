"""Security headers on every response, and the size bound of form posts."""
from __future__ import annotations

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

# Pages load only our own scripts, styles and sockets. Swagger UI (flask-restx) needs an
# inline bootstrap script, so its page alone allows inline script.
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
DOCS_CSP = PAGE_CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'").replace(
    "style-src 'self'", "style-src 'self' 'unsafe-inline'"
)
DOCS_PATHS = ("/jobs/api/docs", "/swaggerui/")


def init_security(app: Flask) -> None:
    @app.after_request
    def add_security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        docs = request.path.startswith(DOCS_PATHS)
        headers.setdefault("Content-Security-Policy", DOCS_CSP if docs else PAGE_CSP)
        if app.config.get("SESSION_COOKIE_SECURE"):
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response


def init_form_limit(app: Flask) -> None:
    """Refuse form posts over MAX_FORM_MEMORY_SIZE with 413, before anything reads them.

    Werkzeug applies that setting to each field of a multipart form only: an urlencoded
    form (what every page posts) is read whole, up to MAX_CONTENT_LENGTH. Registered
    before the CSRF check, which is the first to read the form.
    """
    app.before_request(refuse_oversized_form)


def refuse_oversized_form() -> None:
    if request.mimetype != "application/x-www-form-urlencoded":
        return
    limit = current_app.config["MAX_FORM_MEMORY_SIZE"]
    size = request.content_length
    if size is None:  # chunked: no length up front; read it (MAX_CONTENT_LENGTH bounds it)
        size = len(request.get_data(cache=True))
    if limit is not None and size > limit:
        raise RequestEntityTooLarge(form_too_large_message(limit))


def form_too_large_message(limit: int) -> str:
    return (f"The form sent more than {limit // 1024} KiB. Shorten the longest field "
            "and send it again.")
