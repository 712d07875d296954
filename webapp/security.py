"""Security headers and the access-control gate that applies :mod:`webapp.policy` to every request."""

from __future__ import annotations

import logging

from flask import Flask, abort, flash, g, redirect, request, url_for
from flask_login import current_user

from webapp import accounts, policy

# What a signed-in person whose role requires two-step sign-in, but who has not set it up, may reach: nothing else
# until they have (ASVS 6.3.3).
ENROLMENT_ENDPOINTS = frozenset({"static", "auth.mfa_setup", "auth.confirm", "auth.logout"})

log = logging.getLogger(__name__)

# No inline script or style anywhere: every script and stylesheet is a vendored file under /static.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def register(app: Flask) -> None:
    @app.before_request
    def enforce_policy():
        decision = policy.decide(request.endpoint, current_user)
        if decision is policy.Decision.ALLOW:
            if (
                current_user.is_authenticated
                and request.endpoint not in ENROLMENT_ENDPOINTS
                and request.endpoint is not None
                and not current_user.mfa_enabled
                and accounts.mfa_required(current_user)
            ):
                flash("Your role needs two-step sign-in. Set it up to go on.", "info")
                return redirect(url_for("auth.mfa_setup"))
            return None
        if request.endpoint is not None and request.endpoint not in policy.POLICY:
            log.error("endpoint %s has no access rule; refusing", request.endpoint)
        if decision is policy.Decision.SIGN_IN:
            if request.path.startswith("/api/"):
                abort(401)
            if g.get("session_ended"):
                flash("Your session has ended. Please sign in again.", "info")
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        abort(403)

    @app.after_request
    def set_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "geolocation=(), camera=(), microphone=()")
        if request.is_secure:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if current_user and getattr(current_user, "is_authenticated", False):
            # Pages for signed-in people may hold private data: never keep them in shared caches.
            headers.setdefault("Cache-Control", "no-store")
        return response
