"""Routes of the briefing composer (``convening`` blueprint): the draft with its sections, editing, approving,
previewing an edition, publishing and usage; and how a section's charts are drawn on a page.
"""

from __future__ import annotations

import base64
import json
from functools import lru_cache

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup

from convening import operations as convening_ops
from convening import publishing, quote_check
from convening import queries as convening_queries
from convening import tasks as convening_tasks
from convening.forms import (
    ApproveAllForm,
    PublishForm,
    SectionForm,
)
from convening.models import BriefingSection
from convening.views import (
    bp,
    convened_session_or_404,
    fail,
    form_errors,
    unconfirmed,
)
from webapp import disclosure, policy
from webapp import operations as webapp_ops
from webapp.disclosure import Audience
from webapp.extensions import db

# Composer -------------------------------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _svg_data_uri(spec_json: str) -> str:
    from convening.pdf import vegalite_svg  # noqa: PLC0415 - heavy: convening.pdf loads WeasyPrint

    return "data:image/svg+xml;base64," + base64.b64encode(vegalite_svg(json.loads(spec_json))).decode()


def chart_images(charts: list[dict]) -> list[dict]:
    return [
        {"src": _svg_data_uri(json.dumps(c["spec"], sort_keys=True)), "alt": c.get("alt", ""),
         "caption": c.get("caption", "")}
        for c in charts
    ]  # fmt: skip


def web_doc(doc: dict) -> dict:
    """A document (:mod:`convening.publishing`) as a page shows it: sanitised HTML marked safe, charts as images."""
    sections = [
        {**s, "html": Markup(s["html"]), "images": chart_images(s.get("charts", []))}  # noqa: S704 - sanitised
        for s in doc["sections"]
    ]
    return {**doc, "sections": sections}


@bp.route("/sessions/<int:session_id>/briefing", endpoint="composer")
def composer(session_id: int):
    session = convened_session_or_404(session_id)
    briefing = session.briefing
    if briefing is None:
        flash("Compose the briefing first.", "error")
        return redirect(url_for("convening.session", session_id=session.id))
    sections = sorted(briefing.sections, key=lambda s: s.position)
    forms = {s.id: SectionForm(formdata=None, title=s.title, body=s.body, prefix=f"s{s.id}") for s in sections}
    shown = publishing.draft_sections(briefing)
    try:
        briefing.check_publishable()
        blocker = None
    except ValueError as exc:
        blocker = str(exc)
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
        stale=convening_queries.draft_staleness(briefing),
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
            convening_ops.approve_section(section, current_user)
            message = f"“{section.title}” approved as written."
        elif what == "generalise":
            index = request.form.get("quote", type=int)
            quote_check.generalise_quote(section, -1 if index is None else index - 1, current_user)
            message = f"Quote {index} of “{section.title}” generalised."
        elif what in ("drop", "include"):
            convening_ops.set_included(section, what == "include", current_user)
            message = f"“{section.title}” {'included' if what == 'include' else 'dropped'}."
        elif what in ("up", "down"):
            convening_ops.move_section(section, -1 if what == "up" else 1, current_user)
            message = f"“{section.title}” moved {what}."
        else:
            form = SectionForm(prefix=f"s{section.id}")
            if not form.validate():
                return fail(form_errors(form), back)
            convening_ops.edit_section(section, current_user, title=form.title.data, body=form.body.data or "")
            message = f"“{section.title}” saved."
    except webapp_ops.OperationError as exc:
        return fail(exc, back)
    flash(message, "success")
    return redirect(back)


@bp.route("/sessions/<int:session_id>/briefing/sections", methods=["POST"], endpoint="add_section")
def add_section(session_id: int):
    session = convened_session_or_404(session_id)
    back = url_for("convening.composer", session_id=session.id)
    if session.briefing is None:
        return fail("Compose the briefing first.", url_for("convening.session", session_id=session.id))
    form = SectionForm(prefix="new")
    if not form.validate():
        return fail(form_errors(form), back)
    try:
        section = convening_ops.add_custom_section(
            session.briefing, form.title.data, form.body.data or "", current_user
        )
    except webapp_ops.OperationError as exc:
        return fail(exc, back)
    flash("Section added.", "success")
    return redirect(back + f"#section-{section.id}")


@bp.route("/sessions/<int:session_id>/briefing/approve-all", methods=["POST"], endpoint="approve_all")
def approve_all(session_id: int):
    session = convened_session_or_404(session_id)
    unticked = "Tick the box to say you have read the sections. None was approved."
    refused = unconfirmed(session, ApproveAllForm(), unticked)
    if refused is not None:
        return refused
    back = url_for("convening.composer", session_id=session.id)
    assert session.briefing is not None  # _unconfirmed refused a session without a draft
    approved, refusals = convening_ops.approve_reviewed_sections(session.briefing, current_user)
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
    session = convened_session_or_404(session_id)
    if session.briefing is None:
        abort(404)
    audience = Audience.FUNDERS if request.args.get("edition") == "funders" else Audience.PARTNERSHIP
    doc = publishing.briefing_document(session.briefing, audience)
    return render_template("convening/read.html", doc=web_doc(doc), version=None, session=session, edition=audience)


@bp.route("/sessions/<int:session_id>/briefing/publish", methods=["POST"], endpoint="publish")
def publish(session_id: int):
    session = convened_session_or_404(session_id)
    refused = unconfirmed(session, PublishForm(), "Tick the box to confirm publishing. Nothing was published.")
    if refused is not None:
        return refused
    back = url_for("convening.composer", session_id=session.id)
    try:
        assert session.briefing is not None  # _unconfirmed refused a session without a draft
        version = publishing.publish_briefing(session.briefing, current_user)
        job = convening_tasks.enqueue_pdf(version, current_user)
    except webapp_ops.OperationError as exc:
        return fail(exc, back)
    flash(f"Version {version.number} is published. Its PDF is being prepared.", "success")
    return redirect(url_for("jobs.status", job_id=job.id))


@bp.route("/sessions/<int:session_id>/usage", endpoint="usage")
def usage(session_id: int):
    session = convened_session_or_404(session_id)
    stats = convening_queries.usage(session.briefing) if session.briefing else None
    return render_template("convening/usage.html", session=session, stats=stats)
