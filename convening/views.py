"""Routes of convening: the partnership workspace and its agreement, sessions, the briefing composer, publishing,
decisions and actions, the library, reading and downloading, usage, and "your observations informed".

Who may reach each route is in :data:`webapp.policy.POLICY`; record-level rules (``can_convene``,
``can_read_briefings``) are applied here and answer 404.
"""

from __future__ import annotations

import base64
import logging
from datetime import date
from functools import lru_cache

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select

from convening import operations as ops
from convening.forms import (
    AcceptForm,
    ActionForm,
    ActionStatusForm,
    AgreementForm,
    ApproveAllForm,
    DecisionForm,
    LibraryFilterForm,
    NotesForm,
    PublishForm,
    SectionForm,
    SessionForm,
    choices,
    parse_ids,
)
from convening.models import Action, BriefingSection, BriefingVersion, SectionKind, Session, ViewKind
from indicators import warnings
from webapp import disclosure, policy, transactions
from webapp import operations as base_ops
from webapp.disclosure import Audience, audience_for, edition_for
from webapp.extensions import db
from webapp.home import HomePanel
from webapp.models import Area, Job, JobStatus, Organisation, OrgKind, OrgRole, Partnership
from webapp.policy import Role

log = logging.getLogger(__name__)

bp = Blueprint("convening", __name__, url_prefix="/convening")


def _partnership_or_404(slug: str) -> Partnership:
    partnership = db.session.scalar(select(Partnership).where(Partnership.slug == slug))
    if partnership is None or not policy.can_view_partnership(current_user, partnership):
        abort(404)
    return partnership


def _convened_session_or_404(session_id: int) -> Session:
    session = db.session.get(Session, session_id)
    if session is None or not policy.can_convene(current_user, session.partnership):
        abort(404)
    return session


def _readable_version_or_404(version_id: int) -> tuple[BriefingVersion, Audience]:
    """The version and the edition the reader reads (their audience for its partnership); 404 when they have none:
    a funder reads the funders' edition of partnerships they fund, and nothing of others."""
    version = db.session.get(BriefingVersion, version_id)
    if version is None or not policy.can_read_briefings(current_user, version.partnership):
        abort(404)
    audience = edition_for(audience_for(current_user, version.partnership))
    if audience is None or audience not in version.audiences:
        abort(404)
    return version, audience


def _fail(exc_or_message, to: str):
    """Throw away what the request wrote (its commit point rolls back), say why, and go back to ``to``."""
    transactions.discard()
    message = getattr(exc_or_message, "message", None) or str(exc_or_message)
    flash(message, "error")
    return redirect(to)


def _unconfirmed(session, form, unticked: str):
    """Why a confirmed step on the session's briefing (approve all, publish) may not go ahead, as the response that
    says so (the composer, or the session when there is no draft); None when it may."""
    back = url_for("convening.composer", session_id=session.id)
    if session.briefing is None:
        return _fail("Compose the briefing first.", url_for("convening.session", session_id=session.id))
    if not form.validate():
        return _fail("The form expired; please try again.", back)
    if not form.confirm.data:
        return _fail(unticked, back)
    return None


def _form_errors(form) -> str:
    return " ".join(f"{form[name].label.text}: {' '.join(errs)}" for name, errs in form.errors.items())


# Workspace and agreement ----------------------------------------------------------------------------------------


@bp.route("/partnerships/<slug>", endpoint="workspace")
def workspace(slug: str):
    partnership = _partnership_or_404(slug)
    agreement = partnership.current_agreement
    accepted = {a.organisation_id: a for a in agreement.acceptances} if agreement else {}
    from webapp.models import User

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
    partnership = _partnership_or_404(slug)
    if not policy.can_convene(current_user, partnership):
        abort(404)
    back = url_for("convening.workspace", slug=slug)
    form = AgreementForm()
    if not form.validate():
        return _fail(_form_errors(form), back)
    try:
        agreement = base_ops.publish_agreement(partnership, form.text.data, current_user)
    except base_ops.OperationError as exc:
        return _fail(exc, back)
    flash(f"Version {agreement.version} of the agreement is published; every member must accept it again.", "success")
    return redirect(back)


@bp.route("/partnerships/<slug>/agreement/accept", methods=["POST"], endpoint="accept_agreement")
def accept_agreement(slug: str):
    partnership = _partnership_or_404(slug)
    back = url_for("convening.workspace", slug=slug)
    agreement = partnership.current_agreement
    if agreement is None:
        return _fail("There is no agreement to accept yet.", back)
    form = AcceptForm()
    form.organisation.choices = choices(
        (m.organisation_id, m.organisation.name) for m in current_user.memberships if m.role is OrgRole.ADMIN
    )
    if not form.validate():
        return _fail(_form_errors(form) or "Choose an organisation.", back)
    org = db.session.get(Organisation, form.organisation.data)
    if org is None or current_user.org_role(org) is not OrgRole.ADMIN:
        abort(404)
    try:
        base_ops.accept_agreement(agreement, org, current_user)
    except base_ops.OperationError as exc:
        return _fail(exc, back)
    flash(f"{org.name} accepted version {agreement.version} of the agreement.", "success")
    return redirect(back)


# Sessions -------------------------------------------------------------------------------------------------------


def _session_choices(form: SessionForm, partnership: Partnership) -> None:
    from submissions.models import Category

    form.focus_areas.choices = choices((a.id, a.name) for a in ops.partnership_wards(partnership))
    form.focus_categories.choices = choices(
        (c.id, c.name) for c in db.session.scalars(select(Category).where(Category.active).order_by(Category.position))
    )
    form.attending.choices = choices([(o.id, o.name) for o in [*partnership.members, *partnership.funders]])
    form.focus_themes.choices = choices(ops.partnership_themes(partnership))


@bp.route("/partnerships/<slug>/sessions/new", methods=["GET", "POST"], endpoint="new_session")
def new_session(slug: str):
    partnership = _partnership_or_404(slug)
    if not policy.can_convene(current_user, partnership):
        abort(404)
    form = SessionForm()
    _session_choices(form, partnership)
    if form.validate_on_submit():
        try:
            session = ops.create_session(
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
                attending=[db.session.get(Organisation, i) for i in form.attending.data or []],
            )
        except base_ops.OperationError as exc:
            transactions.discard()
            getattr(form, exc.field, form.title).errors.append(exc.message)
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
    form.theme_ids.choices = choices(ops.partnership_themes(partnership))
    form.area_ids.choices = choices((a.id, a.name) for a in ops.partnership_wards(partnership))
    return form


@bp.route("/sessions/<int:session_id>", endpoint="session")
def session_page(session_id: int):
    session = _convened_session_or_404(session_id)
    return _render_session(session, _action_form(session, formdata=None))


def _render_session(session: Session, action_form: ActionForm, status: int = 200):
    from convening.composer import action_links

    previous = ops.previous_session(session)
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
        focus=ops.focus_label(session),
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
    session = _convened_session_or_404(session_id)
    try:
        ops.compose_briefing(session, current_user)
    except base_ops.OperationError as exc:
        return _fail(exc, url_for("convening.session", session_id=session.id))
    flash("The briefing is drafted from the latest data. Review each machine-written section.", "success")
    return redirect(url_for("convening.composer", session_id=session.id))


@bp.route("/sessions/<int:session_id>/notes", methods=["POST"], endpoint="save_notes")
def save_notes(session_id: int):
    session = _convened_session_or_404(session_id)
    back = url_for("convening.session", session_id=session.id) + "#decisions"
    form = NotesForm()
    if not form.validate():
        return _fail(_form_errors(form), back)
    ops.save_notes(session, form.notes.data or "", current_user)
    flash("Notes saved.", "success")
    return redirect(back)


@bp.route("/sessions/<int:session_id>/decisions", methods=["POST"], endpoint="add_decision")
def add_decision(session_id: int):
    session = _convened_session_or_404(session_id)
    back = url_for("convening.session", session_id=session.id) + "#decisions"
    form = DecisionForm()
    if not form.validate():
        return _fail(_form_errors(form), back)
    try:
        ops.add_decision(session, form.text.data, current_user)
    except base_ops.OperationError as exc:
        return _fail(exc, back)
    flash("Decision recorded.", "success")
    return redirect(back)


@bp.route("/sessions/<int:session_id>/actions", methods=["POST"], endpoint="add_action")
def add_action(session_id: int):
    session = _convened_session_or_404(session_id)
    back = url_for("convening.session", session_id=session.id) + "#actions"
    form = _action_form(session)
    # Errors are shown next to their fields, on the session page sent back with what was typed (422).
    if not form.validate():
        return _render_session(session, form, 422)
    owner = db.session.get(Organisation, form.owner.data) if form.owner.data else None
    try:
        ops.add_action(
            session,
            form.description.data,
            current_user,
            owner=owner,
            due_on=form.due_on.data,
            theme_ids=form.theme_ids.data or [],
            area_ids=form.area_ids.data or [],
            observation_ids=parse_ids(form.observation_ids.data),
        )
    except base_ops.OperationError as exc:
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
        return _fail(_form_errors(form), to)
    try:
        ops.set_action_status(action, form.status.data, current_user)
    except base_ops.OperationError as exc:
        return _fail(exc, to)
    flash(f"Action marked {action.status.label.lower()}.", "success")
    return redirect(to if not back else to)


# Composer -------------------------------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _svg_data_uri(spec_json: str) -> str:
    import json

    from convening.pdf import vegalite_svg

    return "data:image/svg+xml;base64," + base64.b64encode(vegalite_svg(json.loads(spec_json))).decode()


def chart_images(charts: list[dict]) -> list[dict]:
    import json

    return [
        {"src": _svg_data_uri(json.dumps(c["spec"], sort_keys=True)), "alt": c.get("alt", ""),
         "caption": c.get("caption", "")}
        for c in charts
    ]  # fmt: skip


@bp.route("/sessions/<int:session_id>/briefing", endpoint="composer")
def composer(session_id: int):
    session = _convened_session_or_404(session_id)
    briefing = session.briefing
    if briefing is None:
        flash("Compose the briefing first.", "error")
        return redirect(url_for("convening.session", session_id=session.id))
    sections = sorted(briefing.sections, key=lambda s: s.position)
    forms = {s.id: SectionForm(formdata=None, title=s.title, body=s.body, prefix=f"s{s.id}") for s in sections}
    shown = ops.draft_sections(briefing)
    try:
        briefing.check_publishable()
        blocker = None
    except ValueError as exc:
        blocker = str(exc)
    from convening import quote_check

    quote_flags = quote_check.flagged_quotes(briefing)
    if quote_flags and blocker is None:
        blocker = "A quote could identify someone: generalise it, or edit or drop it, before publishing."
    return render_template(
        "convening/composer.html",
        session=session,
        briefing=briefing,
        sections=sections,
        forms=forms,
        new_form=SectionForm(formdata=None, prefix="new"),
        rendered={i: Markup(d["html"]) for i, d in shown.items()},  # noqa: S704 - sanitised by render_markdown
        charts={i: chart_images(d["charts"]) for i, d in shown.items()},
        edited={s.id: bool((s.data or {}).get("edited")) for s in sections},
        method_note=disclosure.method_note(),
        blocker=blocker,
        quote_flags=quote_flags,
        stale=ops.draft_staleness(briefing),
        publish_form=PublishForm(formdata=None),
        approve_all_form=ApproveAllForm(formdata=None),
    )


@bp.route("/sections/<int:section_id>", methods=["POST"], endpoint="edit_section")
def edit_section(section_id: int):
    section = db.session.get(BriefingSection, section_id)
    if section is None or not policy.can_convene(current_user, section.briefing.session.partnership):
        abort(404)
    back = url_for("convening.composer", session_id=section.briefing.session_id) + f"#section-{section.id}"
    what = request.form.get("do", "save")
    try:
        if what == "approve":
            ops.approve_section(section, current_user)
            message = f"“{section.title}” approved as written."
        elif what == "generalise":
            from convening import quote_check

            index = request.form.get("quote", type=int)
            quote_check.generalise_quote(section, -1 if index is None else index - 1, current_user)
            message = f"Quote {index} of “{section.title}” generalised."
        elif what in ("drop", "include"):
            ops.set_included(section, what == "include", current_user)
            message = f"“{section.title}” {'included' if what == 'include' else 'dropped'}."
        elif what in ("up", "down"):
            ops.move_section(section, -1 if what == "up" else 1, current_user)
            message = f"“{section.title}” moved {what}."
        else:
            form = SectionForm(prefix=f"s{section.id}")
            if not form.validate():
                return _fail(_form_errors(form), back)
            ops.edit_section(section, current_user, title=form.title.data, body=form.body.data or "")
            message = f"“{section.title}” saved."
    except base_ops.OperationError as exc:
        return _fail(exc, back)
    flash(message, "success")
    return redirect(back)


@bp.route("/sessions/<int:session_id>/briefing/sections", methods=["POST"], endpoint="add_section")
def add_section(session_id: int):
    session = _convened_session_or_404(session_id)
    back = url_for("convening.composer", session_id=session.id)
    if session.briefing is None:
        return _fail("Compose the briefing first.", url_for("convening.session", session_id=session.id))
    form = SectionForm(prefix="new")
    if not form.validate():
        return _fail(_form_errors(form), back)
    try:
        section = ops.add_custom_section(session.briefing, form.title.data, form.body.data or "", current_user)
    except base_ops.OperationError as exc:
        return _fail(exc, back)
    flash("Section added.", "success")
    return redirect(back + f"#section-{section.id}")


@bp.route("/sessions/<int:session_id>/briefing/approve-all", methods=["POST"], endpoint="approve_all")
def approve_all(session_id: int):
    session = _convened_session_or_404(session_id)
    unticked = "Tick the box to say you have read the sections. None was approved."
    refused = _unconfirmed(session, ApproveAllForm(), unticked)
    if refused is not None:
        return refused
    back = url_for("convening.composer", session_id=session.id)
    approved, refusals = ops.approve_reviewed_sections(session.briefing, current_user)
    if approved:
        flash(f"{len(approved)} section(s) approved as written.", "success")
    for refusal in refusals:
        flash(f"Not approved: {refusal}", "error")
    if not approved and not refusals:
        flash("Every section is already reviewed.", "success")
    return redirect(back)


@bp.route("/sessions/<int:session_id>/briefing/preview", endpoint="preview")
def preview(session_id: int):
    """The draft as an edition would read: the partnership's (default) or, with ``?edition=funders``, the funders'."""
    session = _convened_session_or_404(session_id)
    if session.briefing is None:
        abort(404)
    audience = Audience.FUNDERS if request.args.get("edition") == "funders" else Audience.PARTNERSHIP
    doc = ops.briefing_document(session.briefing, audience)
    return render_template("convening/read.html", doc=_web_doc(doc), version=None, session=session, edition=audience)


@bp.route("/sessions/<int:session_id>/briefing/publish", methods=["POST"], endpoint="publish")
def publish(session_id: int):
    session = _convened_session_or_404(session_id)
    refused = _unconfirmed(session, PublishForm(), "Tick the box to confirm publishing. Nothing was published.")
    if refused is not None:
        return refused
    back = url_for("convening.composer", session_id=session.id)
    try:
        version = ops.publish_briefing(session.briefing, current_user)
        job = ops.enqueue_pdf(version, current_user)
    except base_ops.OperationError as exc:
        return _fail(exc, back)
    flash(f"Version {version.number} is published. Its PDF is being prepared.", "success")
    return redirect(url_for("jobs.status", job_id=job.id))


@bp.route("/sessions/<int:session_id>/usage", endpoint="usage")
def usage(session_id: int):
    session = _convened_session_or_404(session_id)
    stats = ops.usage(session.briefing) if session.briefing else None
    return render_template("convening/usage.html", session=session, stats=stats)


# Library and reading --------------------------------------------------------------------------------------------


def _web_doc(doc: dict) -> dict:
    sections = [
        {**s, "html": Markup(s["html"]), "images": chart_images(s.get("charts", []))}  # noqa: S704 - sanitised
        for s in doc["sections"]
    ]
    return {**doc, "sections": sections}


LIBRARY_PAGE = 50  # briefings per page of the library
LIBRARY_ALL_OPTIONS = 10  # up to this many partnerships, the area and theme filters list all of theirs at once


@bp.route("/library", endpoint="library")
def library():
    form = LibraryFilterForm(request.args)
    partnerships = ops.readable_partnerships(current_user)
    form.partnership.choices = choices([(0, "Any partnership")] + [(p.id, p.name) for p in partnerships])
    # The wards and themes of the chosen partnership, or of all of them when they are few: a national funder's 200
    # partnerships have thousands of wards, a list nobody can use (and 6,000 options on every page).
    chosen = [p for p in partnerships if p.id == request.args.get("partnership", 0, type=int)]
    scope = chosen or (partnerships if len(partnerships) <= LIBRARY_ALL_OPTIONS else [])
    if scope:
        form.area.choices = choices([(0, "Any area"), *ops.partnerships_wards(scope)])
        form.theme.choices = choices([(0, "Any theme"), *ops.partnership_themes(*scope)])
    else:
        form.area.choices = choices([(0, "Any area (choose a partnership first to pick one of its wards)")])
        form.theme.choices = choices([(0, "Any theme (choose a partnership first)")])
    form.validate()
    filters = {
        "partnership_id": form.partnership.data or None if not form.partnership.errors else None,
        "area_id": form.area.data or None if not form.area.errors else None,
        "theme_id": form.theme.data or None if not form.theme.errors else None,
        "date_from": form.date_from.data if not form.date_from.errors else None,
        "date_to": form.date_to.data if not form.date_to.errors else None,
    }
    # One page at a time, newest meeting first: a national funder's library lists hundreds of briefings.
    ids = ops.library_ids(current_user, partnerships=partnerships, **filters)
    pages = max(1, -(-len(ids) // LIBRARY_PAGE))
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), pages)
    start = (page - 1) * LIBRARY_PAGE
    versions = ops.library_versions(ids[start : start + LIBRARY_PAGE])
    editions = {}
    for v in versions:
        audience = edition_for(audience_for(current_user, v.partnership))
        editions[v.id] = v.edition(audience) if audience is not None else None
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "convening/library.html", form=form, versions=versions, editions=editions, total=len(ids), page=page,
        pages=pages, first=start + 1, last=start + len(versions),
        newer=url_for("convening.library", **args, page=page - 1) if page > 1 else None,
        older=url_for("convening.library", **args, page=page + 1) if page < pages else None,
    )  # fmt: skip


@bp.route("/versions/<int:version_id>", endpoint="version")
def version(version_id: int):
    v, audience = _readable_version_or_404(version_id)
    if v.is_withdrawn:
        return _gone(v)
    ops.record_view(v, current_user, ViewKind.VIEW)
    latest = ops.latest_served_version(v.briefing)
    doc = ops.version_document(v, audience)
    return render_template(
        "convening/read.html", doc=_web_doc(doc), version=v, latest=latest, session=None, edition=audience,
        pdf=v.edition(audience),
    )  # fmt: skip


@bp.route("/versions/<int:version_id>/pdf", endpoint="version_pdf")
def version_pdf(version_id: int):
    v, audience = _readable_version_or_404(version_id)
    if v.is_withdrawn:
        return _gone(v)
    edition = v.edition(audience)
    if edition is None or edition.pdf_sha256 is None:
        flash("The PDF of this version is still being prepared. Try again in a minute.", "error")
        return redirect(url_for("convening.version", version_id=v.id))
    if edition.stale:
        # Released with another k or perturbation table: render it again now, so that the PDF and the page agree.
        from convening.pdf import PdfError

        try:
            ops.render_version_pdf(v)
        except PdfError as exc:
            transactions.discard()
            flash(f"The PDF could not be prepared: {exc.message}", "error")
            return redirect(url_for("convening.version", version_id=v.id))
    pdf = edition.pdf
    ops.record_view(v, current_user, ViewKind.DOWNLOAD)
    slug = v.partnership.slug
    suffix = "-funders" if audience is Audience.FUNDERS else ""
    filename = f"{slug}-briefing-{v.briefing.session.held_on.isoformat()}-v{v.number}{suffix}.pdf"
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "private, no-store"},
    )


def _gone(v: BriefingVersion):
    latest = ops.latest_served_version(v.briefing)
    return render_template("convening/gone.html", version=v, latest=latest), 410


@bp.route("/informed", endpoint="informed")
def informed():
    return render_template("convening/informed.html", items=[(o, ops.informed_by(o)) for o in _contributing_orgs()])


def _contributing_orgs() -> list[Organisation]:
    return [m.organisation for m in current_user.memberships if m.organisation.kind is not OrgKind.FUNDER]


# Sessions of the partnerships one convenes, and the home page's panels --------------------------------------------


@bp.route("/sessions", endpoint="sessions")
def sessions_index():
    """The convenor's way in (the nav's "Sessions"): each partnership they convene, its sessions and what waits."""
    overviews = [ops.sessions_overview(p) for p in ops.convened_partnerships(current_user)]
    return render_template("convening/sessions.html", overviews=overviews, today=date.today())


# How many published briefings the funder's home page lists before "all briefings".
HOME_LIBRARY_LATEST = 5


def home_panels(user) -> list[HomePanel]:
    """The home page's panels from convening (registered with webapp.home): a convenor's partnerships and their
    sessions, the agreements an organisation admin has to accept, the briefings that used a contributing
    organisation's observations, and the library for a funder (their main job)."""
    roles = policy.roles_of(user)
    panels = []
    if roles & {Role.CONVENOR, Role.ADMIN}:
        convened = ops.convened_partnerships(user)
        if convened or Role.CONVENOR in roles:
            overviews = [ops.sessions_overview(p) for p in convened]
            values = {"overviews": overviews, "today": date.today()}
            panels.append(HomePanel("convening/_home_sessions.html", values, order=10))
            found = [(p, warnings.early_warnings(p)) for p in convened]
            if any(w for _, w in found):
                values = {"found": [(p, w) for p, w in found if w], "rule": warnings.RULE}
                panels.append(HomePanel("convening/_home_warnings.html", values, order=12))
    if Role.ORG_ADMIN in roles:
        pending = ops.agreements_to_accept(user)
        if pending:
            panels.append(HomePanel("convening/_home_agreements.html", {"pending": pending}, order=15))
    if Role.FUNDER in roles:
        latest = ops.library(user)[:HOME_LIBRARY_LATEST]
        editions = {}
        for v in latest:
            audience = edition_for(audience_for(user, v.partnership))
            editions[v.id] = v.edition(audience) if audience is not None else None
        panels.append(HomePanel("convening/_home_library.html", {"versions": latest, "editions": editions}, order=5))
    if roles & {Role.MEMBER, Role.ORG_ADMIN}:
        orgs = [m.organisation for m in user.memberships if m.organisation.kind is not OrgKind.FUNDER]
        informed = [(o, ops.informed_by(o)[:3]) for o in orgs]
        panels.append(HomePanel("convening/_home_informed.html", {"informed": informed}, order=40))
    return panels


def pdf_job_link(job: Job) -> tuple[str, str] | None:
    """A briefing's PDF job leads to its session (where the PDF is downloaded), or to its reading page."""
    version = db.session.get(BriefingVersion, (job.args or [0])[0])
    if version is None:
        return None
    session = version.briefing.session
    if policy.can_convene(current_user, session.partnership):
        what = "Open the session and its PDF" if job.status is JobStatus.DONE else "Back to the session"
        return (f"{what}: {session.title}", url_for("convening.session", session_id=session.id))
    return (f"Read {version.title}", url_for("convening.version", version_id=version.id))


def section_kinds() -> dict:
    return {k.value: k.label for k in SectionKind}


def areas_by_id(ids: list[int]) -> list[Area]:
    return [a for a in (db.session.get(Area, i) for i in ids) if a is not None]
