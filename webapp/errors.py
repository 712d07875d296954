"""Friendly error pages, and JSON errors under /api/. No stack trace ever reaches a user."""

from __future__ import annotations

import logging
import math
import time
from urllib.parse import parse_qsl

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from webapp import transactions
from webapp.extensions import limiter
from webapp.http import NumberOutOfRange

log = logging.getLogger(__name__)

MESSAGES = {
    400: (
        "The request could not be understood",
        "Something in what was sent was not right. Go back and try again.",
    ),
    401: ("Please sign in", "You need to sign in to do that."),
    403: (
        "You do not have access to this page",
        "Your account does not allow this. Ask your organisation admin.",
    ),
    404: (
        "Page not found",
        "There is nothing at this address. It may have moved, or you may not have access to it.",
    ),
    405: ("That does not work here", "This page cannot be used in that way."),
    413: ("The file is too large", "The file or form you sent is larger than we accept. Send a smaller one."),
    422: ("Please check what you entered", "Some of what was entered is not valid."),
    429: ("Too many attempts", "Please wait a minute before trying again."),
    500: ("Something went wrong on our side", "The error has been logged. Please try again in a moment."),
}


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def render_error(code: int, detail: str | None = None):
    title, message = MESSAGES.get(code, MESSAGES[500])
    if _wants_json():
        return jsonify(error={"status": code, "title": title, "message": detail or message}), code
    return render_template("errors/error.html", code=code, title=title, message=detail or message), code


def _refuse_non_utf8_forms():
    """A url-encoded form whose values are not UTF-8 is refused with 400 (never stored with replacement
    characters). Runs before everything else that reads the form (CSRF included); the body stays cached for them."""
    if request.mimetype != "application/x-www-form-urlencoded":
        return None
    raw = request.get_data(cache=True)
    try:
        parse_qsl(raw.decode("utf-8"), keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        return render_error(400, "The form was not sent as UTF-8 text. Reload the page and try again.")
    return None


def _retry_message() -> str | None:
    """'Try again in N minutes' for a request a rate limit refused, from the limit's own window."""
    current = limiter.current_limit
    if current is None:
        return None
    minutes = max(1, math.ceil((current.reset_at - time.time()) / 60))
    return f"Too many attempts from your network. Try again in {minutes} minute{'s' if minutes != 1 else ''}."


def register(app: Flask) -> None:
    app.before_request_funcs.setdefault(None, []).insert(0, _refuse_non_utf8_forms)

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return render_error(400, "The form had expired or was sent from elsewhere. Go back, reload it and try again.")

    @app.errorhandler(NumberOutOfRange)
    def number_out_of_range(exc: NumberOutOfRange):
        return render_error(400, exc.description)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = exc.code or 500
        if code == 401 and not _wants_json():
            code = 403
        if code == 429:
            return render_error(code, _retry_message())
        return render_error(code)

    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception):
        if isinstance(exc, HTTPException):  # pragma: no cover - routed to http_error
            return http_error(exc)
        log.exception("unhandled error on %s %s", request.method, request.endpoint)
        # A hook that raised before the view (the view's own error was rolled back by the commit point).
        transactions.abandon_request()
        return render_error(InternalServerError.code)
