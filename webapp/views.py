"""Routes of the ground floor: home pages by role, areas, organisations, partnerships, admin, jobs, API root.

Who may reach each route is declared in :mod:`webapp.policy` and enforced before the view runs; the views apply
the record-level rules from the same module.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from webapp import mail, operations, policy
from webapp.extensions import db
from webapp.forms import InviteForm, OrganisationForm, PlatformInviteForm, PublicFormSwitch
from webapp.models import AreaLevel, Job, Organisation, OrgRole, Partnership, PlatformRole, User

log = logging.getLogger(__name__)

main_bp = Blueprint("main", __name__)
orgs_bp = Blueprint("orgs", __name__, url_prefix="/orgs")
partnerships_bp = Blueprint("partnerships", __name__, url_prefix="/partnerships")
admin_bp = Blueprint("admin", __name__, url_prefix="/admin")
jobs_bp = Blueprint("jobs", __name__, url_prefix="/jobs")
api_bp = Blueprint("api", __name__, url_prefix="/api/v1")


def commit_or_flash(operation: Callable[[], object], success: str) -> bool:
    """Run one operation as the request's transaction: commit and flash ``success``, or roll back and flash the
    operation's own message (an :class:`~webapp.operations.OperationError`). True when it committed."""
    try:
        operation()
    except operations.OperationError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return False
    db.session.commit()
    flash(success, "success")
    return True


def _send_invitation(issued: operations.IssuedToken, subject: str, intro: str) -> None:
    """Send a committed invitation's link and tell the inviter whether it went out."""
    if mail.send_link(issued.token.email, subject, intro, issued.path, issued.token.id):
        flash("Invitation sent. The link works once.", "success")
    else:
        flash(
            "The invitation is saved, but its email could not be sent (no working email server: "
            "COMMINTEL_SMTP_HOST). Ask an administrator to fix the email settings, then invite again.",
            "error",
        )


def _get_or_404(model, **by):
    obj = db.session.scalar(select(model).filter_by(**by))
    if obj is None:
        abort(404)
    return obj


# Home ------------------------------------------------------------------------------------------------------------


@main_bp.route("/", endpoint="index")
def main_index():
    return render_template("webapp/index.html")


@main_bp.route("/healthz", endpoint="healthz")
def main_healthz():
    db.session.execute(select(1))
    return jsonify(status="ok")


@main_bp.route("/home", endpoint="home")
def main_home():
    roles = policy.roles_of(current_user)
    partnerships = _visible_partnerships(current_user)
    return render_template(
        "webapp/home.html",
        roles=roles,
        Role=policy.Role,
        partnerships=partnerships,
        organisations=current_user.organisations,
    )


# Organisations ---------------------------------------------------------------------------------------------------


@orgs_bp.route("/", endpoint="index")
def orgs_index():
    if policy.sees_everything(current_user):
        orgs = list(db.session.scalars(select(Organisation).order_by(Organisation.name)))
    else:
        orgs = sorted(current_user.organisations, key=lambda o: o.name)
    return render_template("webapp/orgs.html", orgs=orgs, can_create=current_user.is_admin)


@orgs_bp.route("/new", methods=["GET", "POST"], endpoint="create")
def orgs_create():
    form = OrganisationForm()
    if form.validate_on_submit():
        try:
            org = operations.create_organisation(form.name.data, form.kind.data, actor=current_user)
        except operations.OperationError as exc:
            db.session.rollback()
            getattr(form, exc.field or "name", form.name).errors.append(exc.message)
        else:
            db.session.commit()
            flash(f"{org.name} has been created.", "success")
            return redirect(url_for("orgs.detail", slug=org.slug))
    return render_template("webapp/org_new.html", form=form), 200 if not form.errors else 422


@orgs_bp.route("/<slug>", endpoint="detail")
def orgs_detail(slug: str):
    org = _get_or_404(Organisation, slug=slug)
    if not policy.can_view_org(current_user, org):
        abort(404)
    return render_template(
        "webapp/org.html",
        org=org,
        can_invite=policy.can_invite_to_org(current_user, org),
        partnerships=[p for p in _all_partnerships() if org in p.members or org in p.funders],
    )


@orgs_bp.route("/<slug>/invite", methods=["GET", "POST"], endpoint="invite")
def orgs_invite(slug: str):
    org = _get_or_404(Organisation, slug=slug)
    if not policy.can_invite_to_org(current_user, org):
        abort(404)
    form = InviteForm()
    if form.validate_on_submit():
        try:
            issued = operations.invite(
                form.email.data, current_user, organisation=org, org_role=OrgRole(form.role.data)
            )
        except operations.OperationError as exc:
            db.session.rollback()
            getattr(form, exc.field or "email", form.email).errors.append(exc.message)
        else:
            db.session.commit()
            _send_invitation(
                issued,
                f"You are invited to join {org.name} on commintel",
                f"{current_user.display_name} invited you to join {org.name} on commintel. Set up your account here:",
            )
            return redirect(url_for("orgs.detail", slug=org.slug))
    return render_template("webapp/invite.html", form=form, org=org), 200 if not form.errors else 422


# Partnerships ----------------------------------------------------------------------------------------------------


def _all_partnerships() -> list[Partnership]:
    return list(db.session.scalars(select(Partnership).order_by(Partnership.name)))


def _visible_partnerships(user: User) -> list[Partnership]:
    return [p for p in _all_partnerships() if policy.can_view_partnership(user, p)]


@partnerships_bp.route("/", endpoint="index")
def partnerships_index():
    return render_template("webapp/partnerships.html", partnerships=_visible_partnerships(current_user))


@partnerships_bp.route("/<slug>", endpoint="detail")
def partnerships_detail(slug: str):
    partnership = _get_or_404(Partnership, slug=slug)
    if not policy.can_view_partnership(current_user, partnership):
        abort(404)
    wards = [a for a in partnership.areas if a.level is AreaLevel.WARD]
    las = [a for a in partnership.areas if a.level is AreaLevel.LAD]
    return render_template(
        "webapp/partnership.html",
        partnership=partnership,
        wards=wards,
        las=las,
        can_convene=policy.can_convene(current_user, partnership),
        switch_form=PublicFormSwitch(),
    )


@partnerships_bp.route("/<slug>/public-form", methods=["POST"], endpoint="public_form")
def partnerships_public_form(slug: str):
    partnership = _get_or_404(Partnership, slug=slug)
    if not policy.can_convene(current_user, partnership):
        abort(404)
    form = PublicFormSwitch()
    back = url_for("partnerships.detail", slug=partnership.slug) + "#public-form"
    if not form.validate_on_submit() or form.enable.data not in ("on", "off"):
        flash("Public form: choose to switch it on or off.", "error")
        return redirect(back)
    enable = form.enable.data == "on"
    commit_or_flash(
        lambda: operations.set_public_form(partnership, enable, current_user),
        "The public form is on: residents can now send observations without an account; each waits for moderation."
        if enable
        else "The public form is off.",
    )
    return redirect(back)


# Admin -----------------------------------------------------------------------------------------------------------


@admin_bp.route("/users", endpoint="users")
def admin_users():
    people = list(db.session.scalars(select(User).order_by(User.display_name)))
    return render_template("webapp/admin_users.html", people=people)


@admin_bp.route("/invite", methods=["GET", "POST"], endpoint="invite")
def admin_invite():
    form = PlatformInviteForm()
    if form.validate_on_submit():
        try:
            issued = operations.invite(
                form.email.data, current_user, platform_role=PlatformRole(form.platform_role.data)
            )
        except operations.OperationError as exc:
            db.session.rollback()
            getattr(form, exc.field or "email", form.email).errors.append(exc.message)
        else:
            db.session.commit()
            _send_invitation(
                issued,
                "You are invited to commintel",
                f"{current_user.display_name} invited you to commintel. Set up your account here:",
            )
            return redirect(url_for("admin.users"))
    return render_template("webapp/admin_invite.html", form=form), 200 if not form.errors else 422


# Jobs ------------------------------------------------------------------------------------------------------------


@jobs_bp.route("/<job_id>", endpoint="status")
def jobs_status(job_id: str):
    job = db.session.get(Job, job_id[:36])
    if job is None or not policy.can_view_job(current_user, job):
        abort(404)
    data = {
        "id": job.id,
        "kind": job.kind,
        "status": job.status.value,
        "progress": job.progress,
        "message": job.message,
    }
    if request.accept_mimetypes.best == "application/json" or request.args.get("format") == "json":
        return jsonify(data)
    return render_template("webapp/job.html", job=job)


# API -------------------------------------------------------------------------------------------------------------


@api_bp.route("/", endpoint="index")
def api_index():
    return jsonify(name="commintel", version="v1")
