"""Publishing a briefing: the document an edition reads as (draft or published version, every figure released
when read), publishing a draft as an immutable version with an edition per audience, and rendering and storing
the editions' PDFs.

Operations here change objects and flush; the request, command or task that calls them commits
(:mod:`webapp.transactions`). PDF rendering loads WeasyPrint, so :mod:`convening.pdf` is imported where a PDF is
made.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

from markupsafe import Markup

from convening import quote_check
from convening.composer.edition import Edition
from convening.composer.facts import contributions, quoted_ids
from convening.composer.focus import focus_of
from convening.composer.sections.provenance import FUNDERS_NOTE
from convening.markdown import render_markdown
from convening.models import (
    Briefing,
    BriefingContribution,
    BriefingEdition,
    BriefingSection,
    BriefingVersion,
    SectionKind,
    Session,
)
from submissions.models import Category
from webapp.disclosure import (
    EDITIONS,
    Audience,
    method_note,
    released_with,
)
from webapp.extensions import db
from webapp.models import (
    Area,
    Partnership,
    User,
    utcnow,
)
from webapp.operations import OperationError, record

if TYPE_CHECKING:  # convening.pdf loads WeasyPrint: imported where a PDF is rendered
    from convening.pdf import Limits, RenderResult

log = logging.getLogger(__name__)


# The document (what the PDF and the web page show) --------------------------------------------------------------------


def _d(day: date | None) -> str:
    return f"{day.strftime('%A')} {day.day} {day.strftime('%B %Y')}" if day else ""


def focus_label(session: Session) -> str:
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
    edition = Edition(facts or {}, audience, partnership)
    sections: list[dict] = []
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
        "edition_note": FUNDERS_NOTE if audience is Audience.FUNDERS else "",
        "k": method["k"],
        "method_note": method_note(),
        "released_with": method,
        "has_machine": any(s["machine_written"] for s in sections),
        "sections": sections,
    }


def _meta(briefing: Briefing, number: int | None) -> dict:
    session = briefing.session
    focus = focus_of(session)
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
    from convening.pdf import vegalite_svg  # noqa: PLC0415 - heavy: convening.pdf loads WeasyPrint

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


def render_document_pdf(doc: dict, limits: Limits | None = None) -> RenderResult:
    """The PDF of a document (draft or published version) through the one PDF helper."""
    from convening.pdf import render_pdf  # noqa: PLC0415 - heavy: convening.pdf loads WeasyPrint

    context, generated = document_for_template(doc)
    return render_pdf("convening/pdf/briefing.html", {"doc": context}, generated=generated, limits=limits)


# Publishing -----------------------------------------------------------------------------------------------------------


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
        quote_check.check(briefing)
    facts = briefing.facts or {}  # a briefing written by hand (start_briefing) has no figures
    latest = briefing.latest_version
    number = (latest.number + 1) if latest is not None else 1
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
        quoted_observation_ids=quoted_ids(facts),
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
    for org_id, tally in contributions(facts).items():
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


def store_edition_pdf(version: BriefingVersion, audience: Audience, result: RenderResult) -> BriefingEdition | None:
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


def render_version_pdf(
    version: BriefingVersion, progress: Callable[[int, str], object] | None = None
) -> BriefingVersion:
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


def latest_served_version(briefing: Briefing) -> BriefingVersion | None:
    served = [v for v in briefing.versions if not v.is_withdrawn]
    return served[-1] if served else None
