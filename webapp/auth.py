"""Signing in and out, the second step (authenticator codes), sessions, passwords, invitations and resets.

Routes only; the rules live in :mod:`webapp.accounts` and :mod:`webapp.operations`. The "Your account" pages
(password, second factor, sessions) are routes of the same blueprint in :mod:`webapp.account_views`.

How a sign-in goes: the password is checked; a person with two-step sign-in on is then asked for a code (unless this
browser was remembered), and a person whose role requires it but who has none sets it up first. Until then they are
not signed in at all: the half-way state is a short-lived note in the signed cookie that opens only these two pages.
Only a full sign-in creates a server-side session (:class:`webapp.models.UserSession`), whose id the cookie carries
and every request checks, so signing out ends it everywhere at once.
"""

from __future__ import annotations

import functools
import logging
import time
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from webapp import accounts, transactions
from webapp import operations as webapp_ops
from webapp.extensions import db, limiter, login_manager
from webapp.forms import (
    AcceptInvitationForm,
    ButtonForm,
    CodeForm,
    ForgotPasswordForm,
    LoginForm,
    NewPasswordForm,
    SetupCodeForm,
)
from webapp.jobs import send_after_commit
from webapp.models import TokenPurpose, User, UserSession
from webapp.tasks import send_password_reset
from webapp.transactions import commit_or_redo

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__, url_prefix="/auth")

SESSION_KEY = "sid"
PENDING_KEY = "mfa_pending"
PENDING_SECONDS = 600
DEVICE_COOKIE = "commintel_device"


def login_manager_setup(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to see that page."
    login_manager.login_message_category = "info"
    # "strong": a session whose address or browser changes is ended, not just marked non-fresh.
    login_manager.session_protection = "strong"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The signed-in user, only while their server-side session lives (checked on every request)."""
    try:
        raw_id, raw_version = user_id.split(".", 1)
        user = db.session.get(User, int(raw_id))
        version = int(raw_version)
    except ValueError:
        return None
    if user is None or user.session_version != version or not user.active:
        return None
    raw = session.get(SESSION_KEY)
    record = accounts.find_session(raw)
    if db.session.dirty or db.session.new:
        # The session's last use, or its end when it timed out. A page view reads without SQLite's write lock; if the
        # worker committed meanwhile, this write is made again in its own short transaction (never a 500).
        record = commit_or_redo(record, lambda: accounts.find_session(raw), what="noting a session's last use")
    if record is None or record.user_id != user.id:
        g.session_ended = SESSION_KEY in session
        return None
    g.user_session = record
    return user


def current_session() -> UserSession | None:
    """The server-side session of this request (None when nobody is signed in)."""
    if not current_user.is_authenticated:
        return None
    return g.get("user_session")


def _client() -> accounts.Client:
    return accounts.Client(user_agent=request.headers.get("User-Agent", ""), address=request.remote_addr or "")


def _login_rate_limit() -> str:
    return current_app.config["COMMINTEL_LOGIN_RATE_LIMIT"]


def safe_next(target: str | None) -> str:
    """Only a path on this site: never another host (open redirect)."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("main.home")


# The half-way state between the password and the second step ------------------------------------------------------


def _set_pending(user: User, target: str, enrol: bool) -> None:
    session.clear()
    session[PENDING_KEY] = {
        "uid": user.id,
        "sv": user.session_version,
        "at": int(time.time()),
        "next": target,
        "enrol": enrol,
    }


def _pending() -> tuple[User, dict] | None:
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return None
    user = db.session.get(User, pending.get("uid"))
    if user is None or not user.active or user.session_version != pending.get("sv"):
        return None
    return user, pending


def _sign_in(user: User, second_factor: str, remember: bool = False) -> str | None:
    """Start a full session (a new id: nothing from before sign-in survives); the device cookie value if asked."""
    session.clear()
    _record, raw = accounts.start_session(user, _client(), second_factor)
    device_raw = None
    if remember:
        _device, device_raw = accounts.remember_device(user, _client())
    session[SESSION_KEY] = raw
    login_user(user)
    return device_raw


def _with_device_cookie(response, device_raw: str | None):
    if device_raw:
        response.set_cookie(
            DEVICE_COOKIE,
            device_raw,
            max_age=current_app.config["COMMINTEL_MFA_REMEMBER_DAYS"] * 86400,
            path="/auth/",
            secure=current_app.config["SESSION_COOKIE_SECURE"],
            httponly=True,
            samesite="Lax",
        )
    return response


def _after_password(user: User, target: str):
    """The password was right: sign in, or go on to the second step (or to setting it up)."""
    if user.mfa_enabled:
        device = accounts.find_device(user, request.cookies.get(DEVICE_COOKIE))
        if device is not None:
            device.last_used_at = accounts.utcnow()
            _sign_in(user, "remembered_device")
            return redirect(safe_next(target))
        _set_pending(user, target, enrol=False)
        return redirect(url_for("auth.mfa_verify"))
    if accounts.mfa_required(user):
        _set_pending(user, target, enrol=True)
        flash("Your role needs two-step sign-in. Set it up now: it takes a minute.", "info")
        return redirect(url_for("auth.mfa_setup"))
    _sign_in(user, "none")
    return redirect(safe_next(target))


def fresh_password_required(back: str):
    """A sensitive change: the password must have been typed in this session in the last few minutes (ASVS 7.5)."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if not accounts.recently_authenticated(current_session()):
                flash("For your security, confirm your password to continue.", "info")
                target = request.full_path.rstrip("?") if request.method == "GET" else url_for(back)
                return redirect(url_for("auth.confirm", next=target))
            return view(*args, **kwargs)

        return wrapped

    return decorator


def throttled(email: str, form_field) -> int | None:
    wait = accounts.account_wait_seconds(email)
    if wait:
        form_field.errors.append(accounts.wait_message(wait))
        return 429
    return None


# Sign in and out -------------------------------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_rate_limit, methods=["POST"], on_breach=lambda limit: _address_breached(limit))
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm()
    status: int | None = 200
    if form.validate_on_submit():
        email = (form.email.data or "").strip()
        known = webapp_ops.get_user_by_email(email)
        # A browser this account signed in from before is not held back by the account limit, so an attacker
        # failing on purpose cannot lock the real person out (ASVS 6.1.1).
        device = accounts.find_device(known, request.cookies.get(DEVICE_COOKIE)) if known else None
        status = None if device else throttled(email, form.password)
        if status is None:
            user = webapp_ops.authenticate(email, form.password.data)
            if user is None:
                # Kept although the sign-in is refused: the request commits whatever its status.
                locked = accounts.note_failure(email, known, request.remote_addr or "")
                log.info("failed sign-in attempt")
                form.password.errors.append(
                    "The email address or password is wrong."
                    + (" " + accounts.wait_message(accounts.account_wait_seconds(email)) if locked else "")
                )
                status = 422
            else:
                return _after_password(user, request.args.get("next") or "")
    elif form.errors:
        status = 422
    return render_template("auth/login.html", form=form), status


def _address_breached(limit) -> None:
    """Audit once per lock-out of an address (Flask-Limiter calls this for every refused attempt)."""
    key = f"lockout-audited:{limit.key}:{int(limit.reset_at)}"
    if limiter.storage.incr(key, max(1, int(limit.reset_at - time.time()))) == 1:
        endpoint, ip_prefix = request.endpoint, accounts.address_prefix(request.remote_addr)
        # The limit is checked before the view runs, outside the request's commit point: its own short transaction.
        transactions.write(
            lambda: webapp_ops.record(
                "auth.lockout", "address", None, None, scope="address", endpoint=endpoint, ip_prefix=ip_prefix
            ),
            what="recording an address lock-out",
        )


@bp.route("/logout", methods=["POST"])
def logout():
    record = current_session()
    if record is not None:
        accounts.end_session(record, current_user, "sign_out")
        log.info("user %s signed out", current_user.id)
    logout_user()
    session.clear()
    flash("You have signed out.", "info")
    return redirect(url_for("main.index"))


# The second step -------------------------------------------------------------------------------------------------


@bp.route("/mfa", methods=["GET", "POST"], endpoint="mfa_verify")
def mfa_verify():
    found = _pending()
    if found is None or found[1].get("enrol"):
        flash("Sign in with your email address and password first.", "info")
        return redirect(url_for("auth.login"))
    user, pending = found
    form = CodeForm()
    form.remember.label.text = f"Remember this device for {current_app.config['COMMINTEL_MFA_REMEMBER_DAYS']} days"
    status: int | None = 200
    if request.method == "GET" and accounts.find_device(user, request.cookies.get(DEVICE_COOKIE)) is not None:
        _sign_in(user, "remembered_device")
        return redirect(safe_next(pending.get("next")))
    if form.validate_on_submit():
        status = throttled(user.email, form.code)
        if status is None:
            factor = accounts.verify_second_factor(user, form.code.data)
            if factor is None:
                locked = accounts.note_failure(user.email, user, request.remote_addr or "", step="code")
                form.code.errors.append(
                    "That code is not right. Enter the code your app shows now, or an unused recovery code."
                    + (" " + accounts.wait_message(accounts.account_wait_seconds(user.email)) if locked else "")
                )
                status = 422
            else:
                device_raw = _sign_in(user, factor, remember=bool(form.remember.data))
                if factor == "recovery_code":
                    left = accounts.recovery_codes_left(user)
                    flash(
                        f"You used a recovery code; {left} left. If your phone is lost, make new recovery codes "
                        "from “Your account”, or ask an administrator to reset two-step sign-in.",
                        "info",
                    )
                return _with_device_cookie(redirect(safe_next(pending.get("next"))), device_raw)
    elif form.errors:
        status = 422
    return render_template("auth/mfa_verify.html", form=form), status


@bp.route("/mfa/setup", methods=["GET", "POST"], endpoint="mfa_setup")
def mfa_setup():
    """Set up an authenticator: forced half-way through signing in, or chosen from "Your account"."""
    found = _pending()
    if current_user.is_authenticated:
        user, target, enrolling = current_user, url_for("auth.account"), False
        if user.mfa_enabled:
            flash("Two-step sign-in is already on.", "info")
            return redirect(url_for("auth.account"))
        if not accounts.recently_authenticated(current_session()):
            flash("For your security, confirm your password to continue.", "info")
            return redirect(url_for("auth.confirm", next=url_for("auth.mfa_setup")))
    elif found is not None and found[1].get("enrol"):
        user, target, enrolling = found[0], found[1].get("next") or "", True
        if user.mfa_enabled:  # set up meanwhile (another tab): the code is what is asked now
            _set_pending(user, target, enrol=False)
            return redirect(url_for("auth.mfa_verify"))
    else:
        flash("Sign in with your email address and password first.", "info")
        return redirect(url_for("auth.login"))
    # The secret is kept whatever the code typed below: the request commits on a refused code too
    # (confirm_totp refuses before it writes anything).
    secret = accounts.begin_totp(user)
    form = SetupCodeForm()
    form.remember.label.text = f"Remember this device for {current_app.config['COMMINTEL_MFA_REMEMBER_DAYS']} days"
    if form.validate_on_submit():
        try:
            codes = accounts.confirm_totp(user, form.code.data)
        except webapp_ops.OperationError as exc:
            form.code.errors.append(exc.message)
        else:
            if enrolling:
                device_raw = _sign_in(user, "totp", remember=bool(form.remember.data))
            else:
                accounts.end_sessions(user, user, "mfa_change", keep=current_session())
                device_raw = None
            response = render_template("auth/recovery_codes.html", codes=codes, next=safe_next(target), new=True)
            return _with_device_cookie(current_app.make_response(response), device_raw)
    uri = accounts.provisioning_uri(user, secret)
    return render_template(
        "auth/mfa_setup.html", form=form, secret=secret, qr=accounts.qr_data_uri(uri), enrolling=enrolling
    ), 422 if form.errors else 200


# Forgotten passwords and invitations -----------------------------------------------------------------------------


@bp.route("/forgot", methods=["GET", "POST"])
@limiter.limit(_login_rate_limit, methods=["POST"], on_breach=lambda limit: _address_breached(limit))
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        # The account is looked up, the link made and the email sent in the background: this request does the
        # same work, and takes the same time, whether or not the address has an account (ASVS 6.3.8).
        send_after_commit(send_password_reset, (form.email.data or "").strip()[:254])
        flash("If that address has an account, we have sent it a link to set a new password.", "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/forgot.html", form=form)


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    try:
        webapp_ops.find_token(token, TokenPurpose.PASSWORD_RESET)
    except webapp_ops.OperationError as exc:
        return render_template("auth/link_problem.html", message=exc.message), 400
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            accounts.reset_password(token, form.password.data)
        except webapp_ops.OperationError as exc:
            transactions.discard()
            form.password.errors.append(exc.message)
        else:
            if current_user.is_authenticated:
                logout_user()
            session.clear()
            flash("Your password has been changed. Please sign in.", "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/reset.html", form=form), 200 if not form.errors else 422


@bp.route("/invitation/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):
    try:
        invitation = webapp_ops.find_token(token, TokenPurpose.INVITATION)
    except webapp_ops.OperationError as exc:
        return render_template("auth/link_problem.html", message=exc.message), 400
    if invitation.user_id is not None:
        return _accept_as_existing_account(token, invitation)
    form = AcceptInvitationForm()
    if form.validate_on_submit():
        try:
            user = webapp_ops.accept_invitation(token, form.display_name.data, form.password.data)
        except webapp_ops.OperationError as exc:
            transactions.discard()
            getattr(form, exc.field or "password", form.password).errors.append(exc.message)
        else:
            response = _after_password(user, url_for("main.home"))
            flash("Welcome to commintel. Your account is ready.", "success")  # after the session was renewed
            return response
    return render_template("auth/accept.html", form=form, invitation=invitation), 200 if not form.errors else 422


def _accept_as_existing_account(token: str, invitation):
    """An invitation to an address that has an account: the person signs in as it, then joins."""
    form = ButtonForm()
    if not current_user.is_authenticated:
        return render_template("auth/accept_existing.html", invitation=invitation, form=form, signed_in=False)
    if form.validate_on_submit():
        try:
            membership = webapp_ops.accept_invitation_as(token, current_user)
        except webapp_ops.OperationError as exc:
            transactions.discard()
            return render_template("auth/link_problem.html", message=exc.message), 400
        flash(f"You have joined {membership.organisation.name}.", "success")
        return redirect(url_for("orgs.detail", slug=membership.organisation.slug))
    return render_template("auth/accept_existing.html", invitation=invitation, form=form, signed_in=True)
