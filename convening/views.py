"""Routes of convening (the ``convening`` blueprint): the partnership workspace and its agreement, sessions,
decisions and actions; and the helpers every convening view uses (records or 404, a refusal that discards the
request's writes). The composer's routes are in :mod:`convening.briefing_views`, reading and the library in
:mod:`convening.library_views` (same blueprint: :func:`convening.init_app` imports all three).

Who may reach each route is in :data:`webapp.policy.POLICY`; record-level rules (``can_convene``,
``can_read_briefings``) are applied here and answer 404.
"""

from __future__ import annotations

import logging

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from convening import operations as convening_ops
from convening import publishing
from convening import queries as convening_queries
from convening.composer.facts import action_links
from convening.forms import (
    AcceptForm,
    ActionForm,
    ActionStatusForm,
    AgreementForm,
    DecisionForm,
    NotesForm,
    SessionForm,
    choices,
    parse_ids,
)
from convening.models import Action, BriefingVersion, Session
from submissions.models import Category
from webapp import operations as webapp_ops
from webapp import policy, transactions
from webapp.disclosure import Audience, audience_for, edition_for
from webapp.extensions import db
from webapp.models import Job, Organisation, OrgRole, Partnership, User

log = logging.getLogger(__name__)

bp = Blueprint("convening", __name__, url_prefix="/convening")


def partnership_or_404(slug: str) -> Partnership:
    partnership = db.session.scalar(select(Partnership).where(Partnership.slug == slug))
    if partnership is None or not policy.can_view_partnership(current_user, partnership):
        abort(404)
    return partnership


def convened_session_or_404(session_id: int) -> Session:
    session = db.session.get(Session, session_id)
    if session is None or not policy.can_convene(current_user, session.partnership):
        abort(404)
    return session


def readable_version_or_404(version_id: int) -> tuple[BriefingVersion, Audience]:
    """The version and the edition the reader reads (their audience for its partnership); 404 when they have none:
    a funder reads the funders' edition of partnerships they fund, and nothing of others."""
    version = db.session.get(BriefingVersion, version_id)
    if version is None or not policy.can_read_briefings(current_user, version.partnership):
        abort(404)
    audience = edition_for(audience_for(current_user, version.partnership))
    if audience is None or audience not in version.audiences:
        abort(404)
    return version, audience


def fail(exc_or_message, to: str):
    """Throw away what the request wrote (its commit point rolls back), say why, and go back to ``to``."""
    transactions.discard()
    message = getattr(exc_or_message, "message", None) or str(exc_or_message)
    flash(message, "error")
    return redirect(to)


def unconfirmed(session, form, unticked: str):
    """Why a confirmed step on the session's briefing (approve all, publish) may not go ahead, as the response that
    says so (the composer, or the session when there is no draft); None when it may."""
    back = url_for("convening.composer", session_id=session.id)
    if session.briefing is None:
        return fail("Compose the briefing first.", url_for("convening.session", session_id=session.id))
    if not form.validate():
        return fail("The form expired; please try again.", back)
    if not form.confirm.data:
        return fail(unticked, back)
    return None


def form_errors(form) -> str:
    return " ".join(f"{form[name].label.text}: {' '.join(errs)}" for name, errs in form.errors.items())


# Workspace and agreement ----------------------------------------------------------------------------------------


@bp.route("/partnerships/<slug>", endpoint="workspace")
def workspace(slug: str):
    partnership = partnership_or_404(slug)
    agreement = partnership.current_agreement
    accepted = {a.organisation_id: a for a in agreement.acceptances} if agreement else {}
    acceptors = {
        a.accepted_by_id: db.session.get(User, a.accepted_by_id) for a in accepted.values() if a.accepted_by_id
    }
    my_admin_orgs = [
        m.organisation
        for m in current_user.memberships
        if m.role is OrgRole.ADMIN and m.organisation in partnership.members and m.organisation_id not in accepted
    ]
    accept_form = AcceptForm()
    accept_form.organisation.choices = choices([(o.id, o.name) for o in my_admin_orgs])
    sessions = list(
        db.session.scalars(
            select(Session).where(Session.partnership_id == partnership.id).order_by(Session.held_on.desc())
        )
    )
    return render_template(
        "convening/workspace.html",
        partnership=partnership,
        agreement=agreement,
        accepted=accepted,
        acceptors=acceptors,
        agreement_form=AgreementForm(formdata=None, text=agreement.text if agreement else ""),
        accept_form=accept_form,
        can_convene=policy.can_convene(current_user, partnership),
        my_admin_orgs=my_admin_orgs,
        sessions=sessions,
    )


@bp.route("/partnerships/<slug>/agreement", methods=["POST"], endpoint="publish_agreement")
def publish_agreement(slug: str):
    partnership = partnership_or_404(slug)
    if not policy.can_convene(current_user, partnership):
        abort(404)
    back = url_for("convening.workspace", slug=slug)
    form = AgreementForm()
    if not form.validate():
        return fail(form_errors(form), back)
    try:
        agreement = webapp_ops.publish_agreement(partnership, form.text.data, current_user)
    except webapp_ops.OperationError as exc:
        return fail(exc, back)
    flash(f"Version {agreement.version} of the agreement is published; every member must accept it again.", "success")
    return redirect(back)


@bp.route("/partnerships/<slug>/agreement/accept", methods=["POST"], endpoint="accept_agreement")
def accept_agreement(slug: str):
    partnership = partnership_or_404(slug)
    back = url_for("convening.workspace", slug=slug)
    agreement = partnership.current_agreement
    if agreement is None:
        return fail("There is no agreement to accept yet.", back)
    form = AcceptForm()
    form.organisation.choices = choices(
        (m.organisation_id, m.organisation.name) for m in current_user.memberships if m.role is OrgRole.ADMIN
    )
    if not form.validate():
        return fail(form_errors(form) or "Choose an organisation.", back)
    org = db.session.get(Organisation, form.organisation.data)
    if org is None or current_user.org_role(org) is not OrgRole.ADMIN:
        abort(404)
    try:
        webapp_ops.accept_agreement(agreement, org, current_user)
    except webapp_ops.OperationError as exc:
        return fail(exc, back)
    flash(f"{org.name} accepted version {agreement.version} of the agreement.", "success")
    return redirect(back)


# Sessions -------------------------------------------------------------------------------------------------------


def _session_choices(form: SessionForm, partnership: Partnership) -> None:
    form.focus_areas.choices = choices((a.id, a.name) for a in convening_queries.partnership_wards(partnership))
    form.focus_categories.choices = choices(
        (c.id, c.name) for c in db.session.scalars(select(Category).where(Category.active).order_by(Category.position))
    )
    form.attending.choices = choices([(o.id, o.name) for o in [*partnership.members, *partnership.funders]])
    form.focus_themes.choices = choices(convening_queries.partnership_themes(partnership))


@bp.route("/partnerships/<slug>/sessions/new", methods=["GET", "POST"], endpoint="new_session")
def new_session(slug: str):
    partnership = partnership_or_404(slug)
    if not policy.can_convene(current_user, partnership):
        abort(404)
    form = SessionForm()
    _session_choices(form, partnership)
    if form.validate_on_submit():
        try:
            session = convening_ops.create_session(
                partnership,
                form.title.data,
                form.held_on.data,
                current_user,
                place=form.place.data or "",
                link=form.link.data or "",
                focus_area_ids=form.focus_areas.data or [],
                focus_category_ids=form.focus_categories.data or [],
                focus_theme_ids=form.focus_themes.data or [],
                period_start=form.period_start.data,
                period_end=form.period_end.data,
                agenda=(form.agenda.data or "").splitlines(),
                attending=[
                    o for o in (db.session.get(Organisation, i) for i in form.attending.data or []) if o is not None
                ],
            )
        except webapp_ops.OperationError as exc:
            transactions.discard()
            getattr(form, exc.field or "title", form.title).errors.append(exc.message)
        else:
            flash("Session created. Compose its briefing when you are ready.", "success")
            return redirect(url_for("convening.session", session_id=session.id))
    return render_template("convening/session_new.html", form=form, partnership=partnership), (
        422 if form.errors else 200
    )


def _action_form(session: Session, **kwargs) -> ActionForm:
    form = ActionForm(**kwargs)
    partnership = session.partnership
    form.owner.choices = choices([(0, "No owner yet")] + [(o.id, o.name) for o in partnership.members])
    form.theme_ids.choices = choices(convening_queries.partnership_themes(partnership))
    form.area_ids.choices = choices((a.id, a.name) for a in convening_queries.partnership_wards(partnership))
    return form


@bp.route("/sessions/<int:session_id>", endpoint="session")
def session_page(session_id: int):
    session = convened_session_or_404(session_id)
    return _render_session(session, _action_form(session, formdata=None))


def _render_session(session: Session, action_form: ActionForm, status: int = 200):
    previous = convening_queries.previous_session(session)
    carried = list(previous.actions) if previous else []
    jobs = []
    if session.briefing:
        ids = {str(v.id) for v in session.briefing.versions}
        jobs = [
            j
            for j in db.session.scalars(select(Job).where(Job.kind == "briefing_pdf").order_by(Job.created_at.desc()))
            if str((j.result or {}).get("version_id", "")) in ids or j.status.value in ("queued", "running")
        ][:3]
    return render_template(
        "convening/session.html",
        session=session,
        focus=publishing.focus_label(session),
        previous=previous,
        carried=carried,
        links=action_links([*carried, *session.actions]),
        decision_form=DecisionForm(formdata=None),
        notes_form=NotesForm(formdata=None, notes=session.notes),
        action_form=action_form,
        status_form=ActionStatusForm(formdata=None),
        jobs=jobs,
        Audience=Audience,
    ), status


@bp.route("/sessions/<int:session_id>/compose", methods=["POST"], endpoint="compose")
def compose(session_id: int):
    session = convened_session_or_404(session_id)
    try:
        convening_ops.compose_briefing(session, current_user)
    except webapp_ops.OperationError as exc:
        return fail(exc, url_for("convening.session", session_id=session.id))
    flash("The briefing is drafted from the latest data. Review each machine-written section.", "success")
    return redirect(url_for("convening.composer", session_id=session.id))


@bp.route("/sessions/<int:session_id>/notes", methods=["POST"], endpoint="save_notes")
def save_notes(session_id: int):
    session = convened_session_or_404(session_id)
    back = url_for("convening.session", session_id=session.id) + "#decisions"
    form = NotesForm()
    if not form.validate():
        return fail(form_errors(form), back)
    convening_ops.save_notes(session, form.notes.data or "", current_user)
    flash("Notes saved.", "success")
    return redirect(back)


@bp.route("/sessions/<int:session_id>/decisions", methods=["POST"], endpoint="add_decision")
def add_decision(session_id: int):
    session = convened_session_or_404(session_id)
    back = url_for("convening.session", session_id=session.id) + "#decisions"
    form = DecisionForm()
    if not form.validate():
        return fail(form_errors(form), back)
    try:
        convening_ops.add_decision(session, form.text.data, current_user)
    except webapp_ops.OperationError as exc:
        return fail(exc, back)
    flash("Decision recorded.", "success")
    return redirect(back)


@bp.route("/sessions/<int:session_id>/actions", methods=["POST"], endpoint="add_action")
def add_action(session_id: int):
    session = convened_session_or_404(session_id)
    back = url_for("convening.session", session_id=session.id) + "#actions"
    form = _action_form(session)
    # Errors are shown next to their fields, on the session page sent back with what was typed (422).
    if not form.validate():
        return _render_session(session, form, 422)
    owner = db.session.get(Organisation, form.owner.data) if form.owner.data else None
    try:
        convening_ops.add_action(
            session,
            form.description.data,
            current_user,
            owner=owner,
            due_on=form.due_on.data,
            theme_ids=form.theme_ids.data or [],
            area_ids=form.area_ids.data or [],
            observation_ids=parse_ids(form.observation_ids.data),
        )
    except webapp_ops.OperationError as exc:
        transactions.discard()
        getattr(form, exc.field or "", form.description).errors.append(exc.message)
        return _render_session(session, form, 422)
    flash("Action recorded.", "success")
    return redirect(back)


@bp.route("/actions/<int:action_id>", methods=["POST"], endpoint="action_status")
def action_status(action_id: int):
    action = db.session.get(Action, action_id)
    if action is None or not policy.can_convene(current_user, action.session.partnership):
        abort(404)
    back = request.form.get("back") == "composer"
    to = url_for("convening.session", session_id=request.form.get("session_id", type=int) or action.session_id)
    form = ActionStatusForm()
    if not form.validate():
        return fail(form_errors(form), to)
    try:
        convening_ops.set_action_status(action, form.status.data, current_user)
    except webapp_ops.OperationError as exc:
        return fail(exc, to)
    flash(f"Action marked {action.status.label.lower()}.", "success")
    return redirect(to if not back else to)
