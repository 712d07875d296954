"""Sign-in and sign-out, invitations and password resets (routes only; rules live in operations)."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from webapp import mail, operations
from webapp.extensions import db, limiter, login_manager
from webapp.forms import AcceptInvitationForm, ForgotPasswordForm, LoginForm, NewPasswordForm
from webapp.models import TokenPurpose, User

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__, url_prefix="/auth")


def login_manager_setup(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to see that page."
    login_manager.login_message_category = "info"
    # "strong": a session whose address or browser changes is ended, not just marked non-fresh.
    login_manager.session_protection = "strong"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    try:
        raw_id, raw_version = user_id.split(".", 1)
        user = db.session.get(User, int(raw_id))
        version = int(raw_version)
    except ValueError:
        return None
    if user is None or user.session_version != version or not user.active:
        return None
    return user


def _login_rate_limit() -> str:
    return current_app.config["COMMINTEL_LOGIN_RATE_LIMIT"]


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never another host (open redirect)."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("main.home")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_rate_limit, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm()
    if form.validate_on_submit():
        user = operations.authenticate(form.email.data, form.password.data)
        if user is None:
            db.session.rollback()
            log.info("failed sign-in attempt")
            form.password.errors.append("The email address or password is wrong.")
        else:
            operations.record("user.login", "user", user.id, user)
            db.session.commit()
            login_user(user)
            log.info("user %s signed in", user.id)
            return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form), 200 if not form.errors else 422


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    log.info("user %s signed out", current_user.id)
    logout_user()
    flash("You have signed out.", "info")
    return redirect(url_for("main.index"))


@bp.route("/forgot", methods=["GET", "POST"])
@limiter.limit(_login_rate_limit, methods=["POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        issued = operations.request_password_reset(form.email.data)
        db.session.commit()
        if issued is not None:
            mail.send_link(
                issued.token.email,
                "Reset your commintel password",
                "Someone asked to reset the password of your commintel account. If it was you, follow this link:",
                issued.path,
                issued.token.id,
            )
        # The same answer whether or not the address has an account, so the form cannot be used to find accounts.
        flash("If that address has an account, we have sent it a link to set a new password.", "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/forgot.html", form=form)


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    try:
        operations.find_token(token, TokenPurpose.PASSWORD_RESET)
    except operations.OperationError as exc:
        return render_template("auth/link_problem.html", message=exc.message), 400
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            operations.reset_password(token, form.password.data)
        except operations.OperationError as exc:
            db.session.rollback()
            form.password.errors.append(exc.message)
        else:
            db.session.commit()
            flash("Your password has been changed. Please sign in.", "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/reset.html", form=form), 200 if not form.errors else 422


@bp.route("/invitation/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):
    try:
        invitation = operations.find_token(token, TokenPurpose.INVITATION)
    except operations.OperationError as exc:
        return render_template("auth/link_problem.html", message=exc.message), 400
    form = AcceptInvitationForm()
    if form.validate_on_submit():
        try:
            user = operations.accept_invitation(token, form.display_name.data, form.password.data)
        except operations.OperationError as exc:
            db.session.rollback()
            getattr(form, exc.field or "password", form.password).errors.append(exc.message)
        else:
            db.session.commit()
            login_user(user)
            flash("Welcome to commintel. Your account is ready.", "success")
            return redirect(url_for("main.home"))
    return render_template("auth/accept.html", form=form, invitation=invitation), 200 if not form.errors else 422
