"""Your account: the password, the second factor, sessions and remembered devices (routes of the ``auth``
blueprint, added here; the sign-in itself is :mod:`webapp.auth`). Sensitive changes ask for the password again
(:func:`webapp.auth.fresh_password_required`)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from webapp import accounts, transactions
from webapp import operations as webapp_ops
from webapp.auth import DEVICE_COOKIE, SESSION_KEY, bp, current_session, fresh_password_required, safe_next, throttled
from webapp.extensions import db
from webapp.forms import ButtonForm, ChangePasswordForm, ConfirmPasswordForm
from webapp.models import UserSession

# Your account: password, second factor, sessions -----------------------------------------------------------------


@bp.route("/account", endpoint="account")
def account():
    user = current_user
    return render_template(
        "auth/account.html",
        mfa_required=accounts.mfa_required(user),
        codes_left=accounts.recovery_codes_left(user) if user.mfa_enabled else 0,
        devices=accounts.remembered_devices(user),
        sessions=accounts.active_sessions(user),
        button=ButtonForm(),
    )


@bp.route("/confirm", methods=["GET", "POST"], endpoint="confirm")
def confirm():
    """Type the password again before a sensitive change (the session gets a new id)."""
    form = ConfirmPasswordForm()
    target = safe_next(request.args.get("next"))
    status: int | None = 200
    if form.validate_on_submit():
        status = throttled(current_user.email, form.password)
        if status is None:
            try:
                # Signed in (the route policy lets nobody else here), so the session is there.
                session_record = current_session()
                raw = accounts.confirm_password(session_record, current_user, form.password.data)  # type: ignore[arg-type]
            except webapp_ops.OperationError as exc:
                # confirm_password refuses before it writes; the failure is counted and kept (a 422 commits).
                accounts.note_failure(current_user.email, current_user, request.remote_addr or "", step="reauth")
                form.password.errors.append(exc.message)
                status = 422
            else:
                session[SESSION_KEY] = raw
                return redirect(target)
    elif form.errors:
        status = 422
    return render_template("auth/confirm.html", form=form), status


@bp.route("/password", methods=["GET", "POST"], endpoint="change_password")
def change_password():
    form = ChangePasswordForm()
    status: int | None = 200
    if form.validate_on_submit():
        status = throttled(current_user.email, form.current_password)
        if status is None:
            record = current_session()
            try:
                accounts.change_password(current_user, form.current_password.data, form.password.data, record)
            except webapp_ops.OperationError as exc:
                # change_password refuses before it writes; a wrong current password is counted and kept.
                if exc.field == "current_password":
                    accounts.note_failure(current_user.email, current_user, request.remote_addr or "", "reauth")
                getattr(form, exc.field or "password", form.password).errors.append(exc.message)
                status = 422
            else:
                raw = accounts.rotate_session(record) if record is not None else None
                user = current_user._get_current_object()
                session[SESSION_KEY] = raw
                login_user(user)  # the session version changed with the password
                flash("Your password has been changed. You are signed out everywhere else.", "success")
                return redirect(url_for("auth.account"))
    elif form.errors:
        status = 422
    return render_template("auth/change_password.html", form=form), status


@bp.route("/mfa/recovery-codes", methods=["POST"], endpoint="recovery_codes")
@fresh_password_required("auth.account")
def recovery_codes():
    if not ButtonForm().validate_on_submit():
        return redirect(url_for("auth.account"))
    try:
        codes = accounts.new_recovery_codes(current_user)
    except webapp_ops.OperationError as exc:
        transactions.discard()
        flash(exc.message, "error")
        return redirect(url_for("auth.account"))
    return render_template("auth/recovery_codes.html", codes=codes, next=url_for("auth.account"), new=False)


@bp.route("/mfa/turn-off", methods=["POST"], endpoint="mfa_disable")
@fresh_password_required("auth.account")
def mfa_disable():
    if ButtonForm().validate_on_submit():
        try:
            accounts.turn_off_mfa(current_user, current_user, "self")
        except webapp_ops.OperationError as exc:
            transactions.discard()
            flash(exc.message, "error")
        else:
            accounts.end_sessions(current_user, current_user, "mfa_change", keep=current_session())
            flash("Two-step sign-in is off.", "success")
    return redirect(url_for("auth.account"))


@bp.route("/sessions", endpoint="sessions")
def sessions():
    return render_template(
        "auth/sessions.html",
        sessions=accounts.active_sessions(current_user),
        devices=accounts.remembered_devices(current_user),
        current=current_session(),
        button=ButtonForm(),
    )


@bp.route("/sessions/<int:session_id>/end", methods=["POST"], endpoint="end_session")
@fresh_password_required("auth.sessions")
def end_session(session_id: int):
    record = db.session.get(UserSession, session_id)
    if record is None or record.user_id != current_user.id or not ButtonForm().validate_on_submit():
        return redirect(url_for("auth.sessions"))
    accounts.end_session(record, current_user, "ended_by_user")
    ending = current_session()
    if ending is not None and record.id == ending.id:
        logout_user()
        session.clear()
        flash("You have signed out.", "info")
        return redirect(url_for("auth.login"))
    flash(f"The session on {record.user_agent or 'that device'} has ended.", "success")
    return redirect(url_for("auth.sessions"))


@bp.route("/sessions/end-all", methods=["POST"], endpoint="end_all_sessions")
@fresh_password_required("auth.sessions")
def end_all_sessions():
    """Sign out everywhere: every session (this one too) ends and remembered devices are forgotten."""
    if not ButtonForm().validate_on_submit():
        return redirect(url_for("auth.sessions"))
    accounts.end_sessions(current_user, current_user, "sign_out_everywhere")
    accounts.forget_devices(current_user)
    logout_user()
    session.clear()
    flash("You have signed out everywhere, on every device.", "info")
    response = redirect(url_for("auth.login"))
    response.delete_cookie(DEVICE_COOKIE, path="/auth/")
    return response


@bp.route("/devices/forget", methods=["POST"], endpoint="forget_devices")
@fresh_password_required("auth.sessions")
def forget_devices():
    if ButtonForm().validate_on_submit():
        count = accounts.forget_devices(current_user)
        webapp_ops.record("mfa.devices_forgotten", "user", current_user.id, current_user, devices=count)
        flash("Remembered devices forgotten: each will ask for a code at its next sign-in.", "success")
    response = redirect(url_for("auth.sessions"))
    response.delete_cookie(DEVICE_COOKIE, path="/auth/")
    return response
