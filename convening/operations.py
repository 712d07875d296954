"""Service layer of convening: sessions, composing and editing a briefing's draft, decisions and actions, and
reading records.

Operations change objects, flush, record an audit event (ids only) and return. They never commit and never read the
request: the view, CLI command or task that calls them owns the transaction (:mod:`webapp.transactions`).

The rest of the package's jobs have modules of their own: publishing versions and their PDFs
(:mod:`convening.publishing`), what erasing an observation does to briefings (:mod:`convening.erasure`), what a
user may reach (:mod:`convening.access`) and the read-only questions pages ask (:mod:`convening.queries`).
"""

from __future__ import annotations

import logging
from datetime import date

from convening import quote_check
from convening.composer.edition import MACHINE_SECTIONS, Edition, wanted
from convening.composer.facts import compose
from convening.models import (
    Action,
    ActionStatus,
    Briefing,
    BriefingSection,
    BriefingVersion,
    BriefingView,
    Decision,
    SectionKind,
    Session,
    ViewKind,
)
from convening.queries import _shared_observation_ids, partnership_themes
from webapp.disclosure import (
    Audience,
)
from webapp.extensions import db
from webapp.hierarchy import ids_within
from webapp.models import (
    Organisation,
    Partnership,
    User,
    utcnow,
)
from webapp.operations import OperationError, record

log = logging.getLogger(__name__)


# Sessions -------------------------------------------------------------------------------------------------------------


TITLE_MAX = 200


BODY_MAX = 20_000


def _clean_title(value: str | None, field: str = "title") -> str:
    value = " ".join((value or "").split())
    if len(value) < 3:
        raise OperationError("Give a title of at least 3 characters.", field)
    if len(value) > TITLE_MAX:
        raise OperationError(f"Keep the title under {TITLE_MAX} characters.", field)
    return value


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


# Composing and editing ------------------------------------------------------------------------------------------------


def compose_briefing(session: Session, actor: User | None) -> Briefing:
    """Draft (or re-draft) the session's briefing from the latest data.

    The composer counts the focus for each edition and stores its facts on the briefing; sections a convenor has
    edited or approved are kept as they are (their figures are released from the new facts when shown),
    machine-written ones are replaced. Raises OperationError when the partnership has no shared observations at all
    in the two periods compared.
    """
    facts, composer = compose(session)
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
    draft = Edition(facts, Audience.PARTNERSHIP, session.partnership, tokens=True)
    position = 0
    for kind in MACHINE_SECTIONS:
        if not wanted(kind, facts):
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


# Decisions and actions ------------------------------------------------------------------------------------------------


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


def set_action_status(action: Action, status: ActionStatus | str, actor: User) -> Action:
    """Move an action to another status (open, in progress, done, dropped)."""
    try:
        action.status = ActionStatus(status)
    except ValueError:
        raise OperationError("Choose a status: open, in progress, done or dropped.", "status") from None
    db.session.flush()
    record("action.status", "action", action.id, actor, status=action.status.value)
    return action


# Reading records ------------------------------------------------------------------------------------------------------


def record_view(version: BriefingVersion, user: User, how: ViewKind) -> BriefingView:
    """Record that ``user`` read or downloaded a version (their kind of organisation, never their organisation)."""
    kinds = sorted({m.organisation.kind.value for m in user.memberships})
    kind = kinds[0] if len(kinds) == 1 else ("several" if kinds else (user.platform_role or "none"))
    view = BriefingView(version=version, user_id=user.id, organisation_kind=str(kind), how=how)
    db.session.add(view)
    db.session.flush()
    return view
