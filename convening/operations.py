"""Service layer of convening: sessions, composing and editing briefings, publishing versions and their PDFs,
decisions and actions, reading records, and what erasing an observation does to briefings.

Operations change objects, flush, record an audit event (ids only) and return. They never commit and never read the
request: the view, CLI command or task that calls them owns the transaction.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import defer, selectinload

from convening import composer as composing
from convening.markdown import render_markdown
from convening.models import (
    Action,
    ActionStatus,
    Briefing,
    BriefingContribution,
    BriefingEdition,
    BriefingSection,
    BriefingVersion,
    BriefingView,
    Decision,
    SectionKind,
    Session,
    ViewKind,
)
from submissions.models import Observation
from webapp.disclosure import (
    EDITIONS,
    Audience,
    Tally,
    audience_for,
    edition_for,
    method_note,
    release,
    released_with,
)
from webapp.extensions import db
from webapp.hierarchy import ids_within
from webapp.models import Area, AreaLevel, AuditEvent, Organisation, OrgKind, OrgRole, Partnership, User, utcnow
from webapp.operations import OperationError, record

log = logging.getLogger(__name__)

TITLE_MAX = 200
BODY_MAX = 20_000


def _clean_title(value: str | None, field: str = "title") -> str:
    value = " ".join((value or "").split())
    if len(value) < 3:
        raise OperationError("Give a title of at least 3 characters.", field)
    if len(value) > TITLE_MAX:
        raise OperationError(f"Keep the title under {TITLE_MAX} characters.", field)
    return value


# Sessions ---------------------------------------------------------------------------------------------------------


def create_session(
    partnership: Partnership,
    title: str,
    held_on: date,
    actor: User | None,
    place: str = "",
    link: str = "",
    focus_area_ids: list[int] | None = None,
    focus_category_ids: list[int] | None = None,
    focus_theme_ids: list[int] | None = None,
    period_start: date | None = None,
    period_end: date | None = None,
    agenda: list[str] | None = None,
    attending: list[Organisation] | None = None,
) -> Session:
    """Create a partnership session with its focus, agenda and attending organisations."""
    title = _clean_title(title)
    if held_on is None:
        raise OperationError("Give the date of the session.", "held_on")
    if period_start and period_end and period_start > period_end:
        raise OperationError("The period must start before it ends.", "period_start")
    link = (link or "").strip()
    if link and not link.startswith(("https://", "http://")):
        raise OperationError("A meeting link must start with https://.", "link")
    partnership_area_ids = _area_ids_within(partnership)
    for area_id in focus_area_ids or []:
        if area_id not in partnership_area_ids:
            raise OperationError("Choose focus areas inside the partnership's area.", "focus_area_ids")
    for org in attending or []:
        if org not in partnership.members and org not in partnership.funders:
            raise OperationError(f"{org.name} is not in the partnership.", "attending")
    session = Session(
        partnership=partnership,
        title=title,
        held_on=held_on,
        place=(place or "").strip()[:300],
        link=link[:500],
        focus_area_ids=sorted(set(focus_area_ids or [])),
        focus_category_ids=sorted(set(focus_category_ids or [])),
        focus_theme_ids=sorted(set(focus_theme_ids or [])),
        period_start=period_start,
        period_end=period_end,
        agenda=[" ".join(a.split())[:300] for a in agenda or [] if a.strip()],
        attending=list(attending or []),
        created_by_id=actor.id if actor else None,
    )
    db.session.add(session)
    db.session.flush()
    record("session.create", "session", session.id, actor, partnership_id=partnership.id)
    return session


def _area_ids_within(partnership: Partnership) -> set[int]:
    return ids_within(a.id for a in partnership.areas)


def previous_session(session: Session) -> Session | None:
    return db.session.scalar(
        select(Session)
        .where(
            Session.partnership_id == session.partnership_id,
            Session.id != session.id,
            Session.held_on <= session.held_on,
        )
        .order_by(Session.held_on.desc(), Session.id.desc())
        .limit(1)
    )


# Composing and editing --------------------------------------------------------------------------------------------


def compose_briefing(session: Session, actor: User | None) -> Briefing:
    """Draft (or re-draft) the session's briefing from the latest data.

    The composer counts the focus for each edition and stores its facts on the briefing; sections a convenor has
    edited or approved are kept as they are (their figures are released from the new facts when shown),
    machine-written ones are replaced. Raises OperationError when the partnership has no shared observations at all
    in the two periods compared.
    """
    facts, composer = composing.compose(session)
    if not composer.has_data:
        raise OperationError(
            f"{session.partnership.name} has no shared observations between {composer.focus.previous_label} and "
            f"{composer.focus.period_label}: there is nothing to brief on yet.",
            "session",
        )
    briefing = session.briefing
    if briefing is None:
        briefing = Briefing(session=session, title=f"Briefing: {session.title}")
        db.session.add(briefing)
    briefing.facts = facts
    kept = {s.kind: s for s in briefing.sections if not s.machine_written and s.kind is not SectionKind.PROVENANCE}
    for s in list(briefing.sections):
        if s not in kept.values():
            briefing.sections.remove(s)
    # The text a convenor edits: figures as {{n:cell}} placeholders, released whenever the section is shown.
    draft = composing.Edition(facts, Audience.PARTNERSHIP, session.partnership, tokens=True)
    position = 0
    for kind in composing.MACHINE_SECTIONS:
        if not composing.wanted(kind, facts):
            continue
        if kind in kept:
            kept[kind].position = position
        else:
            briefing.sections.append(
                BriefingSection(
                    kind=kind,
                    title=kind.label,
                    body=draft.section(kind)[0],
                    data={},
                    position=position,
                    machine_written=True,
                )
            )
        position += 1
    for custom in [s for s in kept.values() if s.kind is SectionKind.CUSTOM]:
        custom.position = position
        position += 1
    briefing.sections.append(
        BriefingSection(
            kind=SectionKind.PROVENANCE,
            title="Appendix: provenance",
            body=draft.section(SectionKind.PROVENANCE)[0],
            data={},
            position=1000,
            machine_written=False,
        )
    )
    briefing.composed_at = utcnow()
    briefing.changed_since_publish = True
    db.session.flush()
    record("briefing.compose", "briefing", briefing.id, actor, session_id=session.id)
    log.info("composed briefing %s for session %s", briefing.id, session.id)
    return briefing


def start_briefing(session: Session, actor: User | None) -> Briefing:
    """An empty briefing for the session, for convenors who write it themselves (composing fills one in)."""
    if session.briefing is not None:
        return session.briefing
    briefing = Briefing(session=session, title=f"Briefing: {session.title}")
    db.session.add(briefing)
    db.session.flush()
    record("briefing.start", "briefing", briefing.id, actor, session_id=session.id)
    return briefing


def _section_of(briefing: Briefing, section_id: int) -> BriefingSection:
    for s in briefing.sections:
        if s.id == section_id:
            return s
    raise OperationError("That section is not part of this briefing.", "section")


def edit_section(section: BriefingSection, actor: User, title: str | None = None, body: str | None = None) -> None:
    """A convenor's edit: new title and/or body. Editing counts as reviewing: the machine-written mark goes."""
    if section.kind is SectionKind.PROVENANCE:
        raise OperationError("The provenance appendix is written from the data and cannot be edited.", "body")
    if title is not None:
        section.title = _clean_title(title)
    if body is not None:
        if len(body) > BODY_MAX:
            raise OperationError(f"Keep a section under {BODY_MAX:,} characters.", "body")
        section.body = body.replace("\r\n", "\n")
        # From now on the section reads as the convenor wrote it (its placeholders still released when shown).
        section.data = {**(section.data or {}), "edited": True}
    _reviewed(section, actor)
    record("briefing.section_edit", "briefing_section", section.id, actor)


def approve_section(section: BriefingSection, actor: User) -> None:
    """The convenor read the machine-written text and stands by it as written. A quotes section with a quote that
    could identify someone (convening.quote_check) is refused until that quote is resolved."""
    from convening import quote_check

    quote_check.check(section.briefing, section)
    _reviewed(section, actor)
    record("briefing.section_approve", "briefing_section", section.id, actor)


def approve_reviewed_sections(briefing: Briefing, actor: User) -> tuple[list[BriefingSection], list[str]]:
    """Approve every included machine-written section in one step (the convenor has read them). A section that
    cannot be approved as written (a quote that could identify someone) is left as it is and its refusal returned,
    so the others are not held up: ``(approved, refusals)``."""
    approved, refusals = [], []
    for section in list(briefing.unreviewed_sections):
        if section.kind is SectionKind.PROVENANCE:
            continue
        try:
            approve_section(section, actor)
        except OperationError as exc:
            refusals.append(f"“{section.title}”: {exc.message}")
        else:
            approved.append(section)
    return approved, refusals


# What a draft's themes may have gone through since it was composed, in the words of the notice.
THEME_CHANGES = {
    "themes.rename": "renamed",
    "themes.merge": "merged",
    "themes.hide": "hidden",
    "themes.show": "shown again",
}


def draft_staleness(briefing: Briefing) -> list[str]:
    """What changed in the themes the draft uses since it was composed (renamed, merged, hidden, or a new fit of
    the partnership's themes), one phrase each; empty when the draft is up to date. The draft's theme names and
    counts were fixed when it was composed, so a convenor re-drafts to pick these up."""
    from nlp.themes.models import ThemeModel

    if briefing.composed_at is None:
        return []
    used = {str(i) for i in (briefing.facts or {}).get("shared", {}).get("theme_ids", [])}
    used |= {str(i) for i in (briefing.session.focus_theme_ids or [])}
    changes: dict[str, None] = {}
    events = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action.in_(THEME_CHANGES), AuditEvent.at > briefing.composed_at)
        .order_by(AuditEvent.at)
    )
    for event in events:
        into = str((event.detail or {}).get("into", ""))
        if event.object_id in used or into in used:
            changes[f"a theme was {THEME_CHANGES[event.action]}"] = None
    refit = db.session.scalar(
        select(ThemeModel.fitted_at)
        .where(
            ThemeModel.partnership_id == briefing.session.partnership_id,
            ThemeModel.fitted_at > briefing.composed_at,
        )
        .limit(1)
    )
    if refit is not None:
        changes["the themes were found again (a refresh)"] = None
    return list(changes)


def _reviewed(section: BriefingSection, actor: User) -> None:
    section.machine_written = False
    section.reviewed_by_id, section.reviewed_at = actor.id, utcnow()
    section.briefing.changed_since_publish = True
    db.session.flush()


def set_included(section: BriefingSection, included: bool, actor: User) -> None:
    """Drop a section from the briefing or bring it back; the provenance appendix is always included."""
    if section.kind is SectionKind.PROVENANCE and not included:
        raise OperationError("Every briefing carries its provenance appendix.", "included")
    section.included = included
    section.briefing.changed_since_publish = True
    db.session.flush()
    record("briefing.section_include" if included else "briefing.section_drop", "briefing_section", section.id, actor)


def move_section(section: BriefingSection, offset: int, actor: User) -> None:
    """Move a section up (-1) or down (+1) among the others; the appendix stays last."""
    briefing = section.briefing
    movable = [s for s in sorted(briefing.sections, key=lambda s: s.position) if s.kind is not SectionKind.PROVENANCE]
    if section not in movable:
        raise OperationError("The provenance appendix stays at the end.", "position")
    i = movable.index(section)
    j = max(0, min(len(movable) - 1, i + offset))
    movable.insert(j, movable.pop(i))
    for n, s in enumerate(movable):
        s.position = n
    briefing.changed_since_publish = True
    db.session.flush()
    record("briefing.section_move", "briefing_section", section.id, actor, offset=offset)


def add_custom_section(briefing: Briefing, title: str, body: str, actor: User) -> BriefingSection:
    """A section the convenor writes from scratch (never machine-written)."""
    position = max((s.position for s in briefing.sections if s.kind is not SectionKind.PROVENANCE), default=-1) + 1
    section = BriefingSection(
        kind=SectionKind.CUSTOM, title=_clean_title(title), body=(body or "")[:BODY_MAX], position=position,
        machine_written=False, reviewed_by_id=actor.id, reviewed_at=utcnow(),
    )  # fmt: skip
    briefing.sections.append(section)
    briefing.changed_since_publish = True
    db.session.flush()
    record("briefing.section_add", "briefing_section", section.id, actor)
    return section


# The document (what the PDF and the web page show) -----------------------------------------------------------------


def _d(day: date | None) -> str:
    return f"{day.strftime('%A')} {day.day} {day.strftime('%B %Y')}" if day else ""


def focus_label(session: Session) -> str:
    from submissions.models import Category

    parts = []
    areas = [db.session.get(Area, i) for i in session.focus_area_ids or []]
    if areas:
        parts.append(", ".join(a.name for a in areas if a))
    cats = [db.session.get(Category, i) for i in session.focus_category_ids or []]
    if cats:
        parts.append(", ".join(c.name for c in cats if c))
    return "; ".join(parts) or "The partnership's whole area, every category"


def _spec(section: BriefingSection) -> dict:
    """A draft section as the composition records it (what a published version stores)."""
    return {
        "kind": section.kind.value,
        "title": section.title,
        "body": section.body,
        "edited": bool((section.data or {}).get("edited")) or section.kind is SectionKind.CUSTOM,
        "machine_written": section.machine_written,
        "anchor": f"section-{section.id}",
    }


def compose_document(
    meta: dict, specs: list[dict], facts: dict, audience: Audience, partnership: Partnership | None
) -> dict:
    """One audience's edition of a composition, as the PDF template and the reading page use it: every figure
    released now, through the disclosure layer.

    The partnership's edition shows each section as the convenor left it: edited text with its placeholders
    released, else the text written from the facts. The funders' edition writes every data section from the funders'
    facts (a convenor's edits, which may speak of what only the partnership sees, stay in the partnership's edition)
    and leaves out the convenor's own notes sections.
    """
    edition = composing.Edition(facts or {}, audience, partnership)
    sections = []
    for spec in specs:
        kind = SectionKind(spec["kind"])
        if audience is Audience.FUNDERS and kind is SectionKind.CUSTOM:
            continue
        if audience is Audience.PARTNERSHIP and spec.get("edited"):
            markdown = edition.resolve(spec.get("body", ""))
            charts = [] if kind is SectionKind.CUSTOM else edition.section(kind)[1]
        else:
            markdown, charts = edition.section(kind)
        title = spec["title"] if audience is Audience.PARTNERSHIP else kind.label
        if kind is SectionKind.PROVENANCE and audience is Audience.FUNDERS:
            title = "Appendix: provenance"
        sections.append(
            {
                "anchor": spec.get("anchor", f"section-{len(sections)}"),
                "kind": kind.value,
                "title": title,
                "markdown": markdown,
                "html": str(render_markdown(markdown)),
                "machine_written": bool(spec.get("machine_written")),
                "flow": kind in (SectionKind.QUESTIONS,),
                "charts": charts,
                "quotes": edition.quote_list() if kind is SectionKind.QUOTES else [],
            }
        )
    method = released_with()
    return {
        **meta,
        "edition": audience.value,
        "edition_label": "Funders' edition" if audience is Audience.FUNDERS else "Partnership edition",
        "edition_note": composing.FUNDERS_NOTE if audience is Audience.FUNDERS else "",
        "k": method["k"],
        "method_note": method_note(),
        "released_with": method,
        "has_machine": any(s["machine_written"] for s in sections),
        "sections": sections,
    }


def _meta(briefing: Briefing, number: int | None) -> dict:
    session = briefing.session
    focus = composing.focus_of(session)
    return {
        "title": briefing.title,
        "partnership": session.partnership.name,
        "session_title": session.title,
        "session_date": _d(session.held_on),
        "session_place": session.place or session.link,
        "focus": focus_label(session),
        "period": f"{focus.period_label} (compared with {focus.previous_label})",
        "attending": [o.name for o in session.attending],
        "agenda": list(session.agenda or []),
        "notes": [],
        "is_draft": number is None,
        "status": "Draft: not published" if number is None else f"Version {number}",
    }


def briefing_document(briefing: Briefing, audience: Audience = Audience.PARTNERSHIP, number: int | None = None) -> dict:
    """The draft as one audience's edition would read (plain JSON, figures released now)."""
    specs = [_spec(s) for s in sorted(briefing.sections, key=lambda s: s.position) if s.included]
    return compose_document(
        _meta(briefing, number), specs, briefing.facts or {}, audience, briefing.session.partnership
    )


def draft_sections(briefing: Briefing) -> dict[int, dict]:
    """Each section of the draft (dropped ones too) as the partnership's edition shows it now: ``{section id:
    section document}`` (html, charts), for the composer page."""
    sections = sorted(briefing.sections, key=lambda s: s.position)
    doc = compose_document({}, [_spec(s) for s in sections], briefing.facts or {}, Audience.PARTNERSHIP,
                           briefing.session.partnership)  # fmt: skip
    return {s.id: d for s, d in zip(sections, doc["sections"], strict=True)}


def version_document(version: BriefingVersion, audience: Audience) -> dict:
    """A published version's edition for ``audience``, released now. Versions published before editions existed
    hold their partnership document as published (and have no funders' edition)."""
    content = version.content or {}
    if not version.has_editions:
        if audience is not Audience.PARTNERSHIP:
            raise LookupError(f"version {version.id} has no {audience.value} edition")
        return content
    meta = {**content["meta"], "status": content.get("status", ""), "notes": list(content.get("notes", []))}
    return compose_document(meta, content["sections"], content["facts"], audience, version.partnership)


def document_for_template(doc: dict) -> tuple[dict, dict[str, bytes]]:
    """Attach generated chart images to a stored document; returns (template context ``doc``, generated images)."""
    from markupsafe import Markup

    from convening.pdf import vegalite_svg

    generated: dict[str, bytes] = {}
    sections = []
    for i, s in enumerate(doc["sections"]):
        figures = []
        for j, c in enumerate(s.get("charts", [])):
            name = f"chart-{i}-{j}.svg"
            generated[name] = vegalite_svg(c["spec"])
            figures.append({"name": name, "alt": c.get("alt", ""), "caption": c.get("caption", "")})
        sections.append({**s, "figures": figures, "html": Markup(s["html"])})  # noqa: S704 - sanitised when stored
    return {**doc, "sections": sections}, generated


def render_document_pdf(doc: dict, limits=None):
    """The PDF of a document (draft or published version) through the one PDF helper."""
    from convening.pdf import render_pdf

    context, generated = document_for_template(doc)
    return render_pdf("convening/pdf/briefing.html", {"doc": context}, generated=generated, limits=limits)


# Publishing -------------------------------------------------------------------------------------------------------


def publish_briefing(
    briefing: Briefing, actor: User | None, note: str = "", automatic: bool = False
) -> BriefingVersion:
    """Publish the draft as a new immutable version with an edition per audience; the editions' PDFs are rendered
    afterwards (``render_version_pdf``).

    The version stores the composition and its facts (tallies), not figures as shown: each edition is released from
    them when read. Refused while an included section is still machine-written and unreviewed, or when nothing
    changed since the last version.
    """
    if not automatic:
        try:
            briefing.check_publishable()
        except ValueError as exc:
            raise OperationError(str(exc), "briefing") from None
        from convening import quote_check

        quote_check.check(briefing)
    facts = briefing.facts or {}  # a briefing written by hand (start_briefing) has no figures
    number = (briefing.latest_version.number + 1) if briefing.versions else 1
    published_at = utcnow()
    who = actor.display_name if actor else "commintel"
    content = {
        "format": 2,
        "meta": _meta(briefing, number),
        "status": f"Version {number}, published {published_at:%d %B %Y} by {who}",
        "notes": [note] if note else [],
        "sections": [_spec(s) for s in sorted(briefing.sections, key=lambda s: s.position) if s.included],
        "facts": facts,
        "released_with": released_with(),
    }
    version = BriefingVersion(
        briefing=briefing,
        number=number,
        title=briefing.title,
        content=content,
        note=note,
        published_by_id=actor.id if actor else None,
        published_at=published_at,
        partnership_id=briefing.session.partnership_id,
        area_ids=list(briefing.session.focus_area_ids or []),
        theme_ids=list(briefing.session.focus_theme_ids or []) or list(facts.get("shared", {}).get("theme_ids", [])),
        quoted_observation_ids=composing.quoted_ids(facts),
    )
    db.session.add(version)
    _add_editions(version)
    _add_contributions(version, facts)
    briefing.changed_since_publish = False
    db.session.flush()
    record("briefing.publish", "briefing_version", version.id, actor, number=number, automatic=automatic)
    log.info("published briefing %s version %s", briefing.id, number)
    return version


def _add_editions(version: BriefingVersion) -> None:
    for audience in EDITIONS:
        version.editions.append(BriefingEdition(audience=audience, released_with={}))


def _add_contributions(version: BriefingVersion, facts: dict) -> None:
    for org_id, tally in composing.contributions(facts).items():
        if tally.count > 0:
            version.contributions.append(
                BriefingContribution(organisation_id=org_id, observations=tally.count, key_sum=tally.key_sum)
            )


def editions_to_render(version: BriefingVersion) -> list[tuple[Audience, dict]]:
    """The editions of a published version that need a PDF (none yet, or released with another k or perturbation
    table than the ones in force), each with the document to render: read now, rendered later (outside any
    transaction, see convening.tasks)."""
    if version.is_withdrawn:
        return []
    todo = []
    for audience in version.audiences:
        edition = version.edition(audience)
        if edition is None or edition.stale:
            todo.append((audience, version_document(version, audience)))
    return todo


def store_edition_pdf(version: BriefingVersion, audience: Audience, result) -> BriefingEdition | None:
    """Store a rendered PDF on the version's edition for ``audience``, unless the version was withdrawn or the
    edition got a PDF of the current release meanwhile (another worker, the sweep). Flushes; the caller commits."""
    if version.is_withdrawn:
        return None
    edition = version.edition(audience)
    if edition is None:
        edition = BriefingEdition(audience=audience, released_with={})
        version.editions.append(edition)
    elif not edition.stale:
        return edition
    edition.pdf = result.pdf
    edition.pdf_sha256 = hashlib.sha256(result.pdf).hexdigest()
    edition.pdf_pages = result.pages
    edition.pdf_rendered_at = utcnow()
    edition.released_with = released_with()
    db.session.flush()
    record("briefing.pdf", "briefing_version", version.id, None, pages=result.pages, edition=audience.value)
    return edition


def render_version_pdf(version: BriefingVersion, progress=None) -> BriefingVersion:
    """Render and store, in this transaction, the PDF of each edition that needs one (safe to run again). For the
    command line, the demo and tests; the background task renders outside the transaction (convening.tasks)."""
    todo = editions_to_render(version)
    for i, (audience, document) in enumerate(todo):
        if progress:
            progress(20 + 35 * i, f"Drawing charts and the map ({audience.value} edition)")
        store_edition_pdf(version, audience, render_document_pdf(document))
    if progress:
        progress(95, "Stored")
    return version


def enqueue_pdf(version: BriefingVersion, actor: User | None):
    from convening.tasks import render_briefing_pdf
    from webapp import jobs

    return jobs.enqueue("briefing_pdf", render_briefing_pdf, version.id, created_by=actor)


# Decisions and actions ----------------------------------------------------------------------------------------------


def save_notes(session: Session, notes: str, actor: User) -> Session:
    """The notes of the meeting (plain text, shown on the session page)."""
    session.notes = (notes or "").replace("\r\n", "\n").strip()[:20000]
    db.session.flush()
    record("session.notes", "session", session.id, actor)
    return session


def add_decision(session: Session, text: str, actor: User) -> Decision:
    """Record a decision the session took."""
    text = (text or "").strip()
    if len(text) < 5:
        raise OperationError("Write the decision out (at least 5 characters).", "text")
    decision = Decision(session=session, text=text[:5000], created_by_id=actor.id)
    db.session.add(decision)
    db.session.flush()
    record("decision.create", "decision", decision.id, actor, session_id=session.id)
    return decision


def add_action(
    session: Session,
    description: str,
    actor: User,
    owner: Organisation | None = None,
    due_on: date | None = None,
    theme_ids: list[int] | None = None,
    area_ids: list[int] | None = None,
    observation_ids: list[int] | None = None,
) -> Action:
    """Record an action: what, which member organisation owns it, by when, and what it is about (themes of the
    partnership, areas inside its area, observations shared with it)."""
    description = (description or "").strip()
    if len(description) < 5:
        raise OperationError("Describe the action (at least 5 characters).", "description")
    partnership = session.partnership
    if owner is not None and owner not in partnership.members:
        raise OperationError(f"{owner.name} is not a member of the partnership.", "owner")
    if set(theme_ids or []) - {t_id for t_id, _ in partnership_themes(partnership)}:
        raise OperationError("Choose linked themes among the partnership's themes.", "theme_ids")
    if set(area_ids or []) - _area_ids_within(partnership):
        raise OperationError("Choose linked areas inside the partnership's area.", "area_ids")
    unseen = sorted(set(observation_ids or []) - _shared_observation_ids(partnership, observation_ids or []))
    if unseen:
        numbers = ", ".join(str(i) for i in unseen)
        raise OperationError(
            f"Linked observations not shared with this partnership (check the numbers): {numbers}.",
            "observation_ids",
        )
    action = Action(
        session=session,
        description=description[:2000],
        owner=owner,
        due_on=due_on,
        theme_ids=sorted(set(theme_ids or [])),
        area_ids=sorted(set(area_ids or [])),
        observation_ids=sorted(set(observation_ids or [])),
        created_by_id=actor.id,
    )
    db.session.add(action)
    db.session.flush()
    record("action.create", "action", action.id, actor, session_id=session.id)
    return action


def partnership_themes(*partnerships: Partnership) -> list[tuple[int, str]]:
    """``(id, label)`` of the partnerships' visible themes, by label (none until a theme model has been fitted)."""
    from nlp.themes.queries import visible_theme_labels_of

    return sorted(visible_theme_labels_of(partnerships).items(), key=lambda item: item[1])


def partnership_wards(partnership: Partnership) -> list[Area]:
    """The wards (and custom areas) the partnership lists, by name: what a session focus or an action links to."""
    return sorted((a for a in partnership.areas if a.level in (AreaLevel.WARD, AreaLevel.CUSTOM)), key=lambda a: a.name)


def _shared_observation_ids(partnership: Partnership, ids: list[int]) -> set[int]:
    """Which of ``ids`` are observations the partnership's people may see (the same answer for unknown ids)."""
    if not ids:
        return set()
    from submissions.queries import partnership_observations

    stmt = partnership_observations(partnership).where(Observation.id.in_(set(ids)))
    return set(db.session.scalars(stmt.with_only_columns(Observation.id)))


def set_action_status(action: Action, status: ActionStatus | str, actor: User) -> Action:
    """Move an action to another status (open, in progress, done, dropped)."""
    try:
        action.status = ActionStatus(status)
    except ValueError:
        raise OperationError("Choose a status: open, in progress, done or dropped.", "status") from None
    db.session.flush()
    record("action.status", "action", action.id, actor, status=action.status.value)
    return action


# Reading records and usage ----------------------------------------------------------------------------------------


def record_view(version: BriefingVersion, user: User, how: ViewKind) -> BriefingView:
    """Record that ``user`` read or downloaded a version (their kind of organisation, never their organisation)."""
    kinds = sorted({m.organisation.kind.value for m in user.memberships})
    kind = kinds[0] if len(kinds) == 1 else ("several" if kinds else (user.platform_role or "none"))
    view = BriefingView(version=version, user_id=user.id, organisation_kind=str(kind), how=how)
    db.session.add(view)
    db.session.flush()
    return view


@dataclass
class Usage:
    views: int
    downloads: int
    by_kind: list[tuple[str, int, int]]
    by_day: list[tuple[str, int, int]]


def usage(briefing: Briefing) -> Usage:
    """Views and downloads of every version of a briefing, by kind of organisation and by day."""
    ids = [v.id for v in briefing.versions]
    rows = list(db.session.scalars(select(BriefingView).where(BriefingView.version_id.in_(ids)))) if ids else []
    by_kind: dict[str, Counter] = defaultdict(Counter)
    by_day: dict[str, Counter] = defaultdict(Counter)
    for r in rows:
        by_kind[r.organisation_kind][r.how.value] += 1
        by_day[r.at.date().isoformat()][r.how.value] += 1

    def label(kind: str) -> str:
        try:
            return OrgKind(kind).label
        except ValueError:
            return {"several": "Several kinds", "convenor": "Convenors", "admin": "Administrators"}.get(kind, kind)

    return Usage(
        views=sum(1 for r in rows if r.how is ViewKind.VIEW),
        downloads=sum(1 for r in rows if r.how is ViewKind.DOWNLOAD),
        by_kind=sorted((label(k), c["view"], c["download"]) for k, c in by_kind.items()),
        by_day=sorted((d, c["view"], c["download"]) for d, c in by_day.items()),
    )


# What waits for a convenor (their home page and the Sessions page) -------------------------------------------------

# Actions due within this many days (or overdue) are listed on the convenor's home page.
ACTIONS_DUE_WITHIN_DAYS = 14


@dataclass
class SessionsOverview:
    """One convened partnership's sessions as its convenor's next jobs: what comes up, what waits for review, what
    is published; its members that have not accepted the current agreement; open actions due soon or overdue."""

    partnership: Partnership
    upcoming: list[Session]
    drafts: list[Session]
    published: list[Session]
    not_accepted: list[Organisation]
    has_agreement: bool
    actions_due: list[Action]


def convened_partnerships(user: User) -> list[Partnership]:
    """The partnerships whose sessions ``user`` runs: the ones they convene (administrators: every one)."""
    from webapp import policy

    return [p for p in db.session.scalars(select(Partnership).order_by(Partnership.name))
            if policy.can_convene(user, p)]  # fmt: skip


def sessions_overview(partnership: Partnership, today: date | None = None) -> SessionsOverview:
    """What waits for the convenor of ``partnership`` (see :class:`SessionsOverview`). A session whose briefing is
    unpublished, or changed since it was published, is a draft to review; one published and unchanged since is
    published; a session still to come with neither is upcoming (a session may be both upcoming and a draft)."""
    today = today or date.today()
    sessions = list(db.session.scalars(
        select(Session).where(Session.partnership_id == partnership.id).order_by(Session.held_on, Session.id)
    ))  # fmt: skip
    drafts = [
        s for s in sessions if s.briefing is not None and (not s.briefing.versions or s.briefing.changed_since_publish)
    ]
    published = [s for s in sessions if s.briefing is not None and s.briefing.versions]
    upcoming = [s for s in sessions if s.held_on >= today]
    agreement = partnership.current_agreement
    accepted = {a.organisation_id for a in agreement.acceptances} if agreement else set()
    horizon = today + timedelta(days=ACTIONS_DUE_WITHIN_DAYS)
    actions = list(db.session.scalars(
        select(Action).join(Session, Action.session_id == Session.id)
        .where(Session.partnership_id == partnership.id, Action.due_on.is_not(None), Action.due_on <= horizon)
        .order_by(Action.due_on, Action.id)
    ))  # fmt: skip
    return SessionsOverview(
        partnership=partnership,
        upcoming=upcoming,
        drafts=drafts,
        published=sorted(published, key=lambda s: s.briefing.latest_version.published_at, reverse=True),
        not_accepted=[o for o in partnership.members if o.id not in accepted],
        has_agreement=agreement is not None,
        actions_due=[a for a in actions if a.status.is_open],
    )


def agreements_to_accept(user: User) -> list[tuple[Partnership, Organisation]]:
    """(partnership, organisation) pairs where ``user`` administers a member organisation that has not accepted the
    partnership's current data-sharing agreement (they may accept it in the workspace)."""
    out = []
    for m in user.memberships:
        if m.role is not OrgRole.ADMIN:
            continue
        for p in db.session.scalars(select(Partnership).order_by(Partnership.name)):
            agreement = p.current_agreement
            if agreement is None or m.organisation not in p.members:
                continue
            if m.organisation_id not in {a.organisation_id for a in agreement.acceptances}:
                out.append((p, m.organisation))
    return out


# The library and "your observations informed" ---------------------------------------------------------------------


def readable_partnerships(user: User) -> list[Partnership]:
    from webapp import policy

    # Their people in three queries, not three per partnership (the library lists 200 for a national funder).
    stmt = (
        select(Partnership)
        .order_by(Partnership.name)
        .options(
            selectinload(Partnership.convenors),
            selectinload(Partnership.members),
            selectinload(Partnership.funders),
        )
    )
    return [p for p in db.session.scalars(stmt) if policy.can_read_briefings(user, p)]


def partnerships_wards(partnerships: list[Partnership]) -> list[tuple[int, str]]:
    """``(id, name)`` of the wards the partnerships list, by name, in one query (the library's area filter; a
    national funder's partnerships list thousands)."""
    from webapp.models import partnership_areas

    ids = [p.id for p in partnerships]
    if not ids:
        return []
    listed = select(partnership_areas.c.area_id).where(partnership_areas.c.partnership_id.in_(ids))
    stmt = select(Area.id, Area.name).where(Area.id.in_(listed), Area.level == AreaLevel.WARD)
    # By Python's order of names, as before (not the database's collation).
    return sorted(((i, n) for i, n in db.session.execute(stmt)), key=lambda a: a[1])


def library(
    user: User,
    partnership_id: int | None = None,
    area_id: int | None = None,
    theme_id: int | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    partnerships: list[Partnership] | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[BriefingVersion]:
    """The latest served version of each published briefing the user may read, filtered, newest meeting first: only
    versions with an edition for the reader's audience (a funder reads funders' editions, of the partnerships they
    fund). ``partnerships``: :func:`readable_partnerships` of ``user`` when the caller has them already. ``limit`` and
    ``offset``: one page of them (:func:`library_ids` gives how many there are)."""
    ids = library_ids(user, partnership_id, area_id, theme_id, date_from, date_to, partnerships)
    return library_versions(ids[offset : offset + limit] if limit is not None else ids[offset:])


def library_versions(page: list[int]) -> list[BriefingVersion]:
    """The versions of ``page`` (ids from :func:`library_ids`), in that order, with what the library reads of them."""
    if not page:
        return []
    stmt = (
        select(BriefingVersion)
        .where(BriefingVersion.id.in_(page))
        .options(  # what the page reads of each version, in a query each; not the composition (large JSON)
            defer(BriefingVersion.content),
            selectinload(BriefingVersion.briefing).selectinload(Briefing.session),
            selectinload(BriefingVersion.editions),
            selectinload(BriefingVersion.partnership),
        )
    )
    by_id = {v.id: v for v in db.session.scalars(stmt)}
    return [by_id[i] for i in page]


def library_ids(
    user: User,
    partnership_id: int | None = None,
    area_id: int | None = None,
    theme_id: int | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    partnerships: list[Partnership] | None = None,
) -> list[int]:
    """The ids of :func:`library`'s versions in its order, read as narrow rows (no composition, no objects): a
    national funder's library holds hundreds of versions, each composition hundreds of kilobytes."""
    readable = readable_partnerships(user) if partnerships is None else partnerships
    audiences = {p.id: edition_for(audience_for(user, p)) for p in readable}
    allowed = {pid for pid, audience in audiences.items() if audience is not None}
    if partnership_id is not None:
        allowed &= {partnership_id}
    if not allowed:
        return []
    # Format 2 (every version since editions exist) has an edition per audience; older ones the partnership's only.
    fmt = BriefingVersion.content["format"].as_integer()
    stmt = (
        select(
            BriefingVersion.id,
            BriefingVersion.briefing_id,
            BriefingVersion.number,
            BriefingVersion.partnership_id,
            BriefingVersion.area_ids,
            BriefingVersion.theme_ids,
            Session.held_on,
            fmt,
        )  # fmt: skip
        .join(Briefing, Briefing.id == BriefingVersion.briefing_id)
        .join(Session, Session.id == Briefing.session_id)
        .where(BriefingVersion.partnership_id.in_(allowed), BriefingVersion.withdrawn_at.is_(None))
    )
    latest: dict[int, Any] = {}
    for row in db.session.execute(stmt):
        current = latest.get(row.briefing_id)
        if current is None or row.number > current.number:
            latest[row.briefing_id] = row
    result = []
    for row in latest.values():
        served = EDITIONS if row[-1] == 2 else (Audience.PARTNERSHIP,)
        if audiences[row.partnership_id] not in served:
            continue
        if date_from and row.held_on < date_from:
            continue
        if date_to and row.held_on > date_to:
            continue
        if area_id is not None and row.area_ids and area_id not in ids_within(row.area_ids):
            continue
        if theme_id is not None and theme_id not in (row.theme_ids or []):
            continue
        result.append(row)
    # Newest meeting first; among meetings on the same day, the latest published first (as before: stable sort).
    result.sort(key=lambda r: r.id, reverse=True)
    result.sort(key=lambda r: r.held_on, reverse=True)
    return [r.id for r in result]


def informed_by(organisation: Organisation) -> list[dict[str, Any]]:
    """Published versions (and their sessions' decisions) that drew on the organisation's observations."""
    rows = db.session.execute(
        select(BriefingContribution, BriefingVersion)
        .join(BriefingVersion, BriefingContribution.version_id == BriefingVersion.id)
        .where(BriefingContribution.organisation_id == organisation.id, BriefingVersion.withdrawn_at.is_(None))
        .order_by(BriefingVersion.published_at.desc())
    ).all()
    seen: set[int] = set()
    result = []
    for contribution, version in rows:
        if version.briefing_id in seen:
            continue
        seen.add(version.briefing_id)
        session = version.briefing.session
        # The organisation's own count, released like every other (the same figure wherever it appears).
        released = release(Tally(contribution.observations, contribution.key_sum))
        result.append(
            {"version": version, "observations": released, "session": session,
             "decisions": list(session.decisions),
             "actions": [a for a in session.actions if a.owner_org_id == organisation.id]}
        )  # fmt: skip
    return result


# Erasure ----------------------------------------------------------------------------------------------------------


# An erased observation's text is found in a passage by a run of this many characters (after unescaping Markdown,
# dropping emphasis and quotation marks, folding case and spaces): enough to survive a convenor's trimming or light
# editing of a quote, long enough never to match ordinary prose by chance. Shorter texts must appear whole.
ERASED_RUN = 40
_SHORTEST = 12
_ESCAPED = re.compile(r"\\(.)")
_NOISE = re.compile(r"[*_`\"“”‘’'…]")
_QUOTE_MARKER = re.compile(r"^ {0,3}(?:> ?)+")
_BLOCKQUOTE = re.compile(r"^ {0,3}>")
_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:\s|$)")
ERASED_REASON = (
    "An observation it counted or quoted was erased; it has also been taken out of this stored copy (text and counts)."
)


def _plain(text: str) -> str:
    text = _ESCAPED.sub(r"\1", text or "")
    return " ".join(_NOISE.sub("", text).split()).casefold()


@dataclass(frozen=True)
class ErasedText:
    """The texts of an erased observation (raw, redacted, as quoted), normalised, and where a passage carries them."""

    texts: tuple[str, ...]

    @classmethod
    def of(cls, texts: list[str | None]) -> ErasedText:
        plain = {_plain(t) for t in texts if t}
        return cls(tuple(sorted(p for p in plain if len(p) >= _SHORTEST)))

    def found_in(self, passage: str) -> bool:
        block = _plain(passage)
        if not block:
            return False
        for text in self.texts:
            if len(text) <= ERASED_RUN:
                if text in block:
                    return True
                continue
            # Every run of ERASED_RUN characters holds one of these aligned half-length chunks: a cheap first pass.
            step = ERASED_RUN // 2
            if not any(text[k : k + step] in block for k in range(0, len(text) - step + 1, step)):
                continue
            if any(text[i : i + ERASED_RUN] in block for i in range(len(text) - ERASED_RUN + 1)):
                return True
        return False


def scrub_markdown(markdown: str, erased: ErasedText) -> str:
    """The Markdown without any passage carrying the erased text: a whole blockquote (with its attribution line),
    else the line (a table row, a list item) or the paragraph; a heading left with nothing under it goes too."""
    if not erased.texts or not markdown:
        return markdown
    lines = markdown.split("\n")
    groups: list[tuple[str, list[int]]] = []
    for i, line in enumerate(lines):
        kind = (
            "blank" if not line.strip()
            else "heading" if _HEADING.match(line)
            else "quote" if _BLOCKQUOTE.match(line)
            else "text"
        )  # fmt: skip
        if kind == "text" and groups and groups[-1][0] == "quote":
            kind = "quote"  # a lazy continuation line belongs to the blockquote above it
        if groups and groups[-1][0] == kind and kind != "heading":
            groups[-1][1].append(i)
        else:
            groups.append((kind, [i]))
    drop: set[int] = set()
    for kind, idx in groups:
        if kind == "quote":
            if erased.found_in("\n".join(_QUOTE_MARKER.sub("", lines[i]) for i in idx)):
                drop.update(idx)
        elif kind in ("text", "heading"):
            hit = {i for i in idx if erased.found_in(lines[i])}
            if not hit and len(idx) > 1 and erased.found_in("\n".join(lines[i] for i in idx)):
                hit = set(idx)
            drop |= hit
    if not drop:
        return markdown
    for i, line in enumerate(lines):
        heading = _HEADING.match(line)
        if not heading or i in drop:
            continue
        j, emptied = i + 1, False
        while j < len(lines) and (j in drop or not lines[j].strip()):
            emptied = emptied or j in drop
            j += 1
        following = _HEADING.match(lines[j]) if j < len(lines) else None
        if emptied and (j == len(lines) or (following and len(following.group(1)) <= len(heading.group(1)))):
            drop.add(i)
    out: list[str] = []
    for i, line in enumerate(lines):
        if i in drop or (not line.strip() and (not out or not out[-1].strip())):
            continue
        out.append(line)
    return "\n".join(out).strip("\n")


def scrub_content(content: dict, observation_id: int, erased: ErasedText, record_key: int | None = None) -> dict | None:
    """A version's content without the observation: its quotes, any passage carrying its text, and (versions with
    editions) recounted without it; None when it held none of these."""
    if content.get("format") == 2:
        facts, changed = composing.without_observation(content.get("facts", {}), observation_id, record_key)
        sections = []
        for spec in content.get("sections", []):
            body = scrub_markdown(spec.get("body", ""), erased)
            if body != spec.get("body", ""):
                spec = {**spec, "body": body}
                changed = True
            sections.append(spec)
        if not changed:
            return None
        return {**content, "facts": facts, "sections": sections}
    changed = False
    sections = []
    for s in content.get("sections", []):
        quotes = list(s.get("quotes", []))
        remaining = [q for q in quotes if int(q["observation_id"]) != observation_id]
        markdown = scrub_markdown(s.get("markdown", ""), erased)
        if len(remaining) != len(quotes) or markdown != s.get("markdown", ""):
            if s.get("kind") == SectionKind.QUOTES.value and not remaining and not markdown.strip(" \n>"):
                markdown = composing.quotes_markdown([])
            s = {**s, "quotes": remaining, "markdown": markdown, "html": str(render_markdown(markdown))}
            changed = True
        sections.append(s)
    return {**content, "sections": sections} if changed else None


def relabel(value, labels: dict[str, str]):
    """``value`` (text, or JSON-like lists and dicts of it: Markdown, HTML, chart specifications) with each old theme
    label in ``labels`` replaced by its new one."""
    if not labels:
        return value
    if isinstance(value, str):
        for old, new in labels.items():
            value = value.replace(old, new)
        return value
    if isinstance(value, list):
        return [relabel(v, labels) for v in value]
    if isinstance(value, dict):
        return {k: relabel(v, labels) for k, v in value.items()}
    return value


def relabel_facts(value, labels: dict[str, str]):
    """``relabel`` for a composition's facts, stored content and draft text, where labels are also dict keys (the
    groups) and cells are keyed by the groups' slugs ("g.<slug>.now"): both go, from keys and values."""
    if not labels or value is None:
        return value
    import json

    # Dict keys carry labels too (a composition's groups): replace in the JSON text, labels as JSON-escaped.
    dumped = json.dumps(value, ensure_ascii=False)
    for old, new in labels.items():
        dumped = dumped.replace(json.dumps(old, ensure_ascii=False)[1:-1], json.dumps(new, ensure_ascii=False)[1:-1])
        old_slug, new_slug = composing._slug(old), composing._slug(new)
        if old_slug != new_slug:
            dumped = dumped.replace(old_slug, new_slug)
    return json.loads(dumped)


def _erasure_scope(obs: Observation | None) -> set[int] | None:
    """Partnerships whose briefings could carry the observation's text (None: look everywhere)."""
    if obs is None:
        return None
    scope = {obs.partnership_id} if obs.partnership_id else set()
    if obs.organisation is not None:
        scope |= set(db.session.scalars(select(Partnership.id).where(Partnership.members.contains(obs.organisation))))
    return scope


def observation_erased(observation_id: int) -> list[BriefingVersion]:
    """Remove an erased observation from every briefing: its quotes and any passage carrying its text, and every
    count that included it, from drafts and from every stored published version; versions that counted or quoted it
    stop being served, and a new version recounted without it is published in place of each briefing's latest one.
    Actions lose their link to it.

    Runs inside the erasure's transaction (all or nothing), before the observation's row is deleted. Returns the
    versions published automatically.
    """
    withdrawn_note = (
        f"Republished on {utcnow():%d %B %Y}: an observation it drew on was erased at the request of the people who "
        "shared it, and every figure and quote has been recounted without it. This version replaces the earlier one."
    )
    obs = db.session.get(Observation, observation_id)
    record_key = obs.record_key if obs is not None else None
    scope = _erasure_scope(obs)
    for action in db.session.scalars(select(Action)):
        if observation_id in (action.observation_ids or []):
            action.observation_ids = [i for i in action.observation_ids if i != observation_id]

    briefings_stmt = select(Briefing).join(Session)
    versions_stmt = select(BriefingVersion).order_by(BriefingVersion.id)
    if scope is not None:
        briefings_stmt = briefings_stmt.where(Session.partnership_id.in_(scope))
        versions_stmt = versions_stmt.where(BriefingVersion.partnership_id.in_(scope))
    briefings = list(db.session.scalars(briefings_stmt))
    versions = list(db.session.scalars(versions_stmt))
    quoted = [q["text"] for b in briefings for a in EDITIONS for q in (b.facts or {}).get(a.value, {}).get("quotes", [])
              if int(q["observation_id"]) == observation_id]  # fmt: skip
    for v in versions:
        content = v.content or {}
        if content.get("format") == 2:
            quoted += [q["text"] for a in EDITIONS for q in content.get("facts", {}).get(a.value, {}).get("quotes", [])
                       if int(q["observation_id"]) == observation_id]  # fmt: skip
        else:
            quoted += [q["text"] for s in content.get("sections", []) for q in s.get("quotes", [])
                       if int(q["observation_id"]) == observation_id]  # fmt: skip
    erased = ErasedText.of([*([obs.text, obs.redacted_text] if obs else []), *quoted])
    # Theme labels made of words only this observation supported are relabelled by nlp; briefings follow.
    from nlp.themes.erasure import labels_withdrawn_by

    relabelled = labels_withdrawn_by([observation_id])

    for briefing in briefings:
        changed = False
        if briefing.facts:
            facts, changed = composing.without_observation(briefing.facts, observation_id, record_key)
            facts = relabel_facts(facts, relabelled)
            if changed or facts != briefing.facts:
                briefing.facts = facts
                changed = True
        for section in briefing.sections:
            body = relabel_facts(scrub_markdown(section.body, erased), relabelled)
            if body != section.body:
                section.body = body
                changed = True
        if changed:
            briefing.changed_since_publish = True

    affected: list[BriefingVersion] = []
    for v in versions:
        content = scrub_content(v.content, observation_id, erased, record_key)
        renamed = relabel_facts(content if content is not None else v.content, relabelled)
        if renamed != (content if content is not None else v.content):
            content = renamed
        if content is None:
            continue
        if not v.is_withdrawn:
            v.withdrawn_at = utcnow()
            for edition in v.editions:
                edition.pdf = None
                edition.pdf_sha256 = None
            affected.append(v)
            record("briefing.withdraw", "briefing_version", v.id, None, reason="observation_erased")
        v.erase_from_content(content, ERASED_REASON)
    republished = []
    for briefing in {v.briefing: None for v in affected}:
        latest = briefing.latest_version
        if latest not in affected:
            continue  # the briefing's current version never drew on it: it stays served as it is
        version = _republish(briefing, latest, dict(latest.content), withdrawn_note, observation_id)
        republished.append(version)
    db.session.flush()
    return republished


def _republish(
    briefing: Briefing, latest: BriefingVersion, content: dict, note: str, erased_id: int
) -> BriefingVersion:
    number = latest.number + 1
    published_at = utcnow()
    content = {**content, "status": f"Version {number}, published {published_at:%d %B %Y} (automatic: recounted after "
               "an erasure)", "notes": [*content.get("notes", []), note]}  # fmt: skip
    if content.get("format") == 2:
        quoted = composing.quoted_ids(content.get("facts", {}))
    else:
        quoted = sorted({int(q["observation_id"]) for s in content["sections"] for q in s.get("quotes", [])})
    version = BriefingVersion(
        briefing=briefing,
        number=number,
        title=latest.title,
        content=content,
        note=note,
        published_by_id=None,
        published_at=published_at,
        partnership_id=latest.partnership_id,
        area_ids=list(latest.area_ids or []),
        theme_ids=list(latest.theme_ids or []),
        quoted_observation_ids=quoted,
    )
    db.session.add(version)
    if content.get("format") == 2:
        _add_editions(version)
        _add_contributions(version, content.get("facts", {}))
    else:
        erased = db.session.get(Observation, erased_id)
        version.editions.append(BriefingEdition(audience=Audience.PARTNERSHIP, released_with={"legacy": True}))
        for c in latest.contributions:
            n = c.observations - (1 if erased is not None and erased.organisation_id == c.organisation_id else 0)
            if n > 0:
                version.contributions.append(BriefingContribution(organisation_id=c.organisation_id, observations=n))
    db.session.flush()
    record("briefing.publish", "briefing_version", version.id, None, number=number, automatic=True)
    from convening.tasks import render_briefing_pdf_now
    from webapp.jobs import send_after_commit

    send_after_commit(render_briefing_pdf_now, version.id)
    return version


def latest_served_version(briefing: Briefing) -> BriefingVersion | None:
    served = [v for v in briefing.versions if not v.is_withdrawn]
    return served[-1] if served else None


def now() -> datetime:
    return utcnow()
