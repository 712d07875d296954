"""The administrators' pages: people (their second factor and sessions), the audit log, platform invitations.

Who may reach each route is declared in :mod:`webapp.policy` (administrators only)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import and_, func, or_, select

from webapp import accounts, transactions
from webapp import operations as webapp_ops
from webapp.extensions import db
from webapp.forms import (
    AuditFilterForm,
    ButtonForm,
    PlatformInviteForm,
)
from webapp.models import (
    AuditEvent,
    PlatformRole,
    User,
)
from webapp.views import send_invitation

admin_bp = Blueprint("admin", __name__, url_prefix="/admin")


# Admin -----------------------------------------------------------------------------------------------------------


@admin_bp.route("/users", endpoint="users")
def admin_users():
    people = list(db.session.scalars(select(User).order_by(User.display_name)))
    return render_template("webapp/admin_users.html", people=people)


@admin_bp.route("/users/<int:user_id>", endpoint="user")
def admin_user(user_id: int):
    person = db.session.get(User, user_id) or abort(404)
    return render_template(
        "webapp/admin_user.html",
        person=person,
        sessions=accounts.active_sessions(person),
        devices=accounts.remembered_devices(person),
        codes_left=accounts.recovery_codes_left(person) if person.mfa_enabled else 0,
        mfa_required=accounts.mfa_required(person),
        events=list(
            db.session.scalars(
                select(AuditEvent)
                .where(
                    or_(
                        AuditEvent.actor_id == person.id,
                        and_(AuditEvent.object_type == "user", AuditEvent.object_id == str(person.id)),
                    )
                )
                .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
                .limit(20)
            )
        ),
        button=ButtonForm(),
    )


@admin_bp.route("/users/<int:user_id>/reset-mfa", methods=["POST"], endpoint="reset_mfa")
def admin_reset_mfa(user_id: int):
    """A person lost their phone and recovery codes: after checking who they are (docs/security.md), an admin
    removes their second factor; they set it up again at their next sign-in. Audited."""
    person = db.session.get(User, user_id) or abort(404)
    if ButtonForm().validate_on_submit():
        accounts.turn_off_mfa(person, current_user, "admin_reset")
        flash(f"Two-step sign-in of {person.display_name} is reset and their sessions have ended.", "success")
    return redirect(url_for("admin.user", user_id=person.id))


@admin_bp.route("/users/<int:user_id>/end-sessions", methods=["POST"], endpoint="end_sessions")
def admin_end_sessions(user_id: int):
    person = db.session.get(User, user_id) or abort(404)
    if ButtonForm().validate_on_submit():
        ended = accounts.end_sessions(person, current_user, "admin")
        accounts.forget_devices(person)
        flash(f"{ended} session{'s' if ended != 1 else ''} of {person.display_name} ended.", "success")
    return redirect(url_for("admin.user", user_id=person.id))


AUDIT_PAGE_SIZE = 50


@admin_bp.route("/audit", endpoint="audit")
def admin_audit():
    """The audit log, newest first: filter by event, by who did it and by date; 50 to a page."""
    form = AuditFilterForm(request.args)
    actions = list(db.session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)))
    form.action.choices = [("", "Every event"), *[(a, a) for a in actions]]
    stmt = select(AuditEvent)
    errors: list[str] = []
    if form.action.data:
        stmt = stmt.where(AuditEvent.action == form.action.data[:64])
    actor = (form.actor.data or "").strip()
    if actor:
        if actor.isdigit():
            stmt = stmt.where(AuditEvent.actor_id == int(actor[:18]))
        else:
            person = webapp_ops.get_user_by_email(actor[:254])
            stmt = stmt.where(AuditEvent.actor_id == (person.id if person else -1))
    for name, bound in (("start", "from"), ("end", "to")):
        raw = (getattr(form, name).data or "").strip()
        if not raw:
            continue
        try:
            day = datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            getattr(form, name).errors = [f"Write the date {bound} as YYYY-MM-DD, e.g. 2026-03-31."]
            errors.append(name)
            continue
        stmt = stmt.where(AuditEvent.at >= day) if name == "start" else stmt.where(AuditEvent.at < day + timedelta(1))
    page_number = max(1, min(request.args.get("page", 1, type=int) or 1, 100_000))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    events = list(
        db.session.scalars(
            stmt.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .offset((page_number - 1) * AUDIT_PAGE_SIZE)
            .limit(AUDIT_PAGE_SIZE)
        )
    )
    total = total or 0
    pages = max(1, -(-total // AUDIT_PAGE_SIZE))
    query = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "webapp/admin_audit.html", form=form, events=events, total=total, page=page_number, pages=pages, query=query
    ), 422 if errors else 200


@admin_bp.route("/invite", methods=["GET", "POST"], endpoint="invite")
def admin_invite():
    form = PlatformInviteForm()
    if form.validate_on_submit():
        try:
            issued = webapp_ops.invite(
                form.email.data, current_user, platform_role=PlatformRole(form.platform_role.data)
            )
        except webapp_ops.OperationError as exc:
            transactions.discard()
            getattr(form, exc.field or "email", form.email).errors.append(exc.message)
        else:
            send_invitation(
                issued,
                "You are invited to commintel",
                f"{current_user.display_name} invited you to commintel. Set up your account here:",
            )
            return redirect(url_for("admin.users"))
    return render_template("webapp/admin_invite.html", form=form), 200 if not form.errors else 422
