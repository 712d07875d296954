"""Routes of the ground floor: home pages by role, organisations, partnerships, jobs, API root (the administrators'
pages are :mod:`webapp.admin_views`).

Who may reach each route is declared in :mod:`webapp.policy` and enforced before the view runs; the views apply
the record-level rules from the same module.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from webapp import home, jobs, mail, policy, transactions
from webapp import operations as webapp_ops
from webapp.extensions import db
from webapp.forms import (
    AddToPartnershipForm,
    InviteForm,
    OrganisationForm,
    PartnershipForm,
    PublicFormSwitch,
)
from webapp.models import (
    Area,
    AreaLevel,
    Job,
    JobStatus,
    Organisation,
    OrgKind,
    OrgRole,
    Partnership,
    PlatformRole,
    User,
)

log = logging.getLogger(__name__)

main_bp = Blueprint("main", __name__)
orgs_bp = Blueprint("orgs", __name__, url_prefix="/orgs")
partnerships_bp = Blueprint("partnerships", __name__, url_prefix="/partnerships")
jobs_bp = Blueprint("jobs", __name__, url_prefix="/jobs")
api_bp = Blueprint("api", __name__, url_prefix="/api/v1")
# A job page reloads itself this often while the job is queued or running (a meta refresh: no script needed).
JOB_REFRESH_SECONDS = 5


def apply_or_flash(operation: Callable[[], object], success: str) -> bool:
    """Run one operation and flash ``success``; or flash the operation's own message (an
    :class:`~webapp.operations.OperationError`) and discard what the request wrote (it is not committed). True when
    the operation succeeded (the request's commit point then stores it)."""
    try:
        operation()
    except webapp_ops.OperationError as exc:
        transactions.discard()
        flash(exc.message, "error")
        return False
    flash(success, "success")
    return True


def send_invitation(issued: webapp_ops.IssuedToken, subject: str, intro: str) -> None:
    """Send the invitation's link once the request has committed it (a link that works), and tell the inviter
    whether it went out."""
    to, path, token_id = issued.token.email, issued.path, issued.token.id

    def send() -> None:
        if mail.send_link(to, subject, intro, path, token_id):
            flash("Invitation sent. The link works once.", "success")
        else:
            flash(
                "The invitation is saved, but its email could not be sent (no working email server: "
                "COMMINTEL_SMTP_HOST). Ask an administrator to fix the email settings, then invite again.",
                "error",
            )

    jobs.call_after_commit(send)


def _get_or_404(model, **by):
    obj = db.session.scalar(select(model).filter_by(**by))
    if obj is None:
        abort(404)
    return obj


# Home ------------------------------------------------------------------------------------------------------------


@main_bp.route("/", endpoint="index")
def main_index():
    # Residents start here: each partnership that takes residents' observations without an account is linked.
    open_forms = db.session.scalars(
        select(Partnership).where(Partnership.public_form_enabled.is_(True)).order_by(Partnership.name)
    )
    return render_template("webapp/index.html", open_forms=list(open_forms))


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
        panels=home.panels_for(current_user),
    )


# Organisations ---------------------------------------------------------------------------------------------------


@orgs_bp.route("/", endpoint="index")
def orgs_index():
    if policy.sees_everything(current_user):
        orgs = list(db.session.scalars(select(Organisation).order_by(Organisation.name)))
    else:
        orgs = sorted(
            set(current_user.organisations) | policy.convened_organisations(current_user), key=lambda o: o.name
        )
    return render_template("webapp/orgs.html", orgs=orgs, can_create=current_user.is_admin)


@orgs_bp.route("/new", methods=["GET", "POST"], endpoint="create")
def orgs_create():
    form = OrganisationForm()
    if form.validate_on_submit():
        try:
            org = webapp_ops.create_organisation(form.name.data, form.kind.data, actor=current_user)
        except webapp_ops.OperationError as exc:
            transactions.discard()
            getattr(form, exc.field or "name", form.name).errors.append(exc.message)
        else:
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
            issued = webapp_ops.invite(
                form.email.data, current_user, organisation=org, org_role=OrgRole(form.role.data)
            )
        except webapp_ops.OperationError as exc:
            transactions.discard()
            getattr(form, exc.field or "email", form.email).errors.append(exc.message)
        else:
            # The same answer whether or not the address has an account: only the email itself says which.
            send_invitation(
                issued,
                f"You are invited to join {org.name} on commintel",
                f"{current_user.display_name} invited you to join {org.name} on commintel. "
                + (
                    "You already have an account: sign in and accept here:"
                    if issued.token.user_id is not None
                    else "Set up your account here:"
                ),
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
    return render_template("webapp/partnerships.html", partnerships=_visible_partnerships(current_user),
                           can_create=current_user.is_admin)  # fmt: skip


@partnerships_bp.route("/new", methods=["GET", "POST"], endpoint="create")
def partnerships_create():
    """Admins: a partnership and the areas it covers; members, funders and convenors are added on its page."""
    form = PartnershipForm()
    if form.validate_on_submit():
        try:
            lines = [line for line in (form.areas.data or "").splitlines() if line.strip()]
            areas = [webapp_ops.area_named(line) for line in lines]
            partnership = webapp_ops.create_partnership(form.name.data, areas=areas, actor=current_user)
        except webapp_ops.OperationError as exc:
            transactions.discard()
            getattr(form, exc.field or "name", form.name).errors.append(exc.message)
        else:
            flash(f"{partnership.name} has been created. Add its member organisations, funders and convenors below.",
                  "success")  # fmt: skip
            return redirect(url_for("partnerships.detail", slug=partnership.slug) + "#add")
    return render_template("webapp/partnership_new.html", form=form), 200 if not form.errors else 422


def _may_add(user: User, partnership: Partnership, what: str) -> bool:
    """Admins add anything; a partnership's convenors add its areas and member organisations (funders and
    convenors change who reads what, so they are for admins)."""
    return user.is_admin or (what in ("area", "member") and policy.can_convene(user, partnership))


def _addable(partnership: Partnership, user: User) -> dict[str, list[tuple[str, str]]]:
    """What each add form offers: (value, label) of what is not in the partnership yet and the reader may add."""
    offers: dict[str, list[tuple[str, str]]] = {}
    if _may_add(user, partnership, "member"):
        inside = {o.id for o in (*partnership.members, *partnership.funders)}
        orgs = db.session.scalars(select(Organisation).order_by(Organisation.name))
        offers["member"] = [(o.slug, o.name) for o in orgs if o.id not in inside and o.kind is not OrgKind.FUNDER]
    if _may_add(user, partnership, "funder"):
        inside = {o.id for o in (*partnership.members, *partnership.funders)}
        funders = db.session.scalars(select(Organisation).where(Organisation.kind == OrgKind.FUNDER)
                                     .order_by(Organisation.name))  # fmt: skip
        offers["funder"] = [(o.slug, o.name) for o in funders if o.id not in inside]
    if _may_add(user, partnership, "convenor"):
        people = db.session.scalars(select(User).where(User.platform_role.in_((PlatformRole.CONVENOR,
                                    PlatformRole.ADMIN))).order_by(User.email))  # fmt: skip
        offers["convenor"] = [(u.email, f"{u.display_name or u.email} ({u.email})") for u in people
                              if u not in partnership.convenors]  # fmt: skip
    return offers


@partnerships_bp.route("/<slug>/add", methods=["POST"], endpoint="add")
def partnerships_add(slug: str):
    partnership = _get_or_404(Partnership, slug=slug)
    if not (current_user.is_admin or policy.can_convene(current_user, partnership)):
        abort(404)
    form = AddToPartnershipForm()
    back = url_for("partnerships.detail", slug=partnership.slug) + "#add"
    what = form.what.data if form.what.data in webapp_ops.PARTNERSHIP_PARTS else None
    value = (form.item.data or "").strip()
    if what is None or not form.validate_on_submit() or not value:
        flash("Add to the partnership: choose or type what to add first.", "error")
        return redirect(back)
    if not _may_add(current_user, partnership, what):
        abort(403)  # a convenor adding a funder or a convenor: admins do

    def add() -> None:
        item: Area | User | Organisation | None
        if what == "area":
            item = webapp_ops.area_named(value)
        elif what == "convenor":
            item = db.session.scalar(select(User).where(User.email == value.lower()))
        else:
            item = db.session.scalar(select(Organisation).where(Organisation.slug == value))
        if item is None:
            raise webapp_ops.OperationError(f"No {what} {value[:60]!r}.", "item")
        if not webapp_ops.add_to_partnership(partnership, what, item, current_user):
            raise webapp_ops.OperationError(f"That {what} is in {partnership.name} already.", "item")

    apply_or_flash(add, f"Added the {what} to {partnership.name}.")
    return redirect(back)


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
        addable=_addable(partnership, current_user),
        may_add_area=_may_add(current_user, partnership, "area"),
        add_form=AddToPartnershipForm(),
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
    apply_or_flash(
        lambda: webapp_ops.set_public_form(partnership, enable, current_user),
        "The public form is on: residents can now send observations without an account; each waits for moderation."
        if enable
        else "The public form is off.",
    )
    return redirect(back)


# Jobs ------------------------------------------------------------------------------------------------------------


@jobs_bp.route("/<job_id>", endpoint="status")
def jobs_status(job_id: str):
    job = db.session.get(Job, job_id[:36])
    if job is None or not policy.can_view_job(current_user, job):
        abort(404)
    parts = jobs.parts_of(job)
    progress, message = job.progress, job.message
    if parts and job.status is JobStatus.RUNNING:
        progress, message = jobs.summary(parts)  # as of now, not as of the last part that ended
    data = {
        "id": job.id,
        "kind": job.kind,
        "status": job.status.value,
        "progress": progress,
        "message": message,
        "parts": [{"id": p.id, "label": p.label, "status": p.status.value, "progress": p.progress} for p in parts],
    }
    if request.accept_mimetypes.best == "application/json" or request.args.get("format") == "json":
        return jsonify(data)
    finished = job.status in (JobStatus.DONE, JobStatus.FAILED)
    return render_template(
        "webapp/job.html",
        job=job,
        progress=progress,
        message=message,
        parts=parts,
        finished=finished,
        result_link=jobs.result_link(job),
        refresh_seconds=None if finished else JOB_REFRESH_SECONDS,
    )


# API -------------------------------------------------------------------------------------------------------------


@api_bp.route("/", endpoint="index")
def api_index():
    return jsonify(name="commintel", version="v1")
