"""Read-only questions the pages of convening ask: a partnership's themes and wards, the session before this one,
what changed in a draft's themes, a briefing's usage, what waits for a convenor, agreements to accept, and the
briefings an organisation's observations informed. Nothing here writes.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select

from convening.models import (
    Action,
    Briefing,
    BriefingContribution,
    BriefingVersion,
    BriefingView,
    Session,
    ViewKind,
)
from nlp.themes.models import ThemeModel
from nlp.themes.queries import visible_theme_labels_of
from submissions.models import Observation
from submissions.queries import partnership_observations
from webapp import hierarchy
from webapp.disclosure import (
    Tally,
    release,
)
from webapp.extensions import db
from webapp.models import (
    Area,
    AreaLevel,
    AuditEvent,
    Organisation,
    OrgKind,
    OrgRole,
    Partnership,
    User,
    partnership_areas,
)

log = logging.getLogger(__name__)


# Sessions -------------------------------------------------------------------------------------------------------------


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


def partnership_themes(*partnerships: Partnership) -> list[tuple[int, str]]:
    """``(id, label)`` of the partnerships' visible themes, by label (none until a theme model has been fitted)."""
    return sorted(visible_theme_labels_of(partnerships).items(), key=lambda item: item[1])


def partnership_wards(partnership: Partnership) -> list[Area]:
    """What a session focus or an action links to, by name: the current wards the partnership covers (those it
    lists and those of the local authorities it lists, as its indicator pages show them) and its custom areas. A
    partnership set up over a whole local authority offered no ward to focus a session on."""
    custom = [a for a in partnership.areas if a.level is AreaLevel.CUSTOM]
    return sorted([*hierarchy.partnership_wards(partnership), *custom], key=lambda a: a.name)


def partnerships_wards(partnerships: list[Partnership]) -> list[tuple[int, str]]:
    """``(id, name)`` of the wards the partnerships list, by name, in one query (the library's area filter; a
    national funder's partnerships list thousands)."""
    ids = [p.id for p in partnerships]
    if not ids:
        return []
    listed = select(partnership_areas.c.area_id).where(partnership_areas.c.partnership_id.in_(ids))
    stmt = select(Area.id, Area.name).where(Area.id.in_(listed), Area.level == AreaLevel.WARD)
    # By Python's order of names, as before (not the database's collation).
    return sorted(((i, n) for i, n in db.session.execute(stmt)), key=lambda a: a[1])


def _shared_observation_ids(partnership: Partnership, ids: list[int]) -> set[int]:
    """Which of ``ids`` are observations the partnership's people may see (the same answer for unknown ids)."""
    if not ids:
        return set()
    stmt = partnership_observations(partnership).where(Observation.id.in_(set(ids)))
    return set(db.session.scalars(stmt.with_only_columns(Observation.id)))


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


# Usage ----------------------------------------------------------------------------------------------------------------


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


# What waits for a convenor (their home page and the Sessions page) ----------------------------------------------------


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


def _published_at(session: Session) -> datetime:
    """When the session's briefing was last published (the session has a published briefing)."""
    version = session.briefing.latest_version if session.briefing is not None else None
    if version is None:
        raise ValueError(f"session {session.id} has no published briefing")
    return version.published_at


def nearest_sessions_first(partnerships: list[Partnership], today: date | None = None) -> list[Partnership]:
    """``partnerships`` ordered for a home page that cannot show them all: the soonest session to come first, then
    those whose last session is the most recent, then those with no session, each by name. One query."""
    today = today or date.today()
    ids = [p.id for p in partnerships]
    rows = db.session.execute(
        select(
            Session.partnership_id,
            func.min(case((Session.held_on >= today, Session.held_on))),
            func.max(case((Session.held_on < today, Session.held_on))),
        )
        .where(Session.partnership_id.in_(ids))
        .group_by(Session.partnership_id)
    ).all() if ids else []  # fmt: skip
    dates = {pid: (nxt, last) for pid, nxt, last in rows}

    def key(p: Partnership) -> tuple:
        nxt, last = dates.get(p.id, (None, None))
        if nxt is not None:
            return (0, nxt.toordinal(), p.name)
        if last is not None:
            return (1, -last.toordinal(), p.name)
        return (2, 0, p.name)

    return sorted(partnerships, key=key)


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
        published=sorted(published, key=_published_at, reverse=True),
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


# Your observations informed -------------------------------------------------------------------------------------------


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
