"""Convening's record-level access rules: which partnerships' sessions a user runs, which partnerships' briefings
they may read, and which published versions (and which edition of each) their library holds.

Each asks the one home of the rules (:mod:`webapp.policy` for who may convene or read a partnership's briefings,
:mod:`webapp.disclosure` for the edition an audience reads); views answer 404 for what these leave out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import defer, selectinload

from convening.models import (
    Briefing,
    BriefingVersion,
    Session,
)
from webapp import policy
from webapp.disclosure import (
    EDITIONS,
    Audience,
    audience_for,
    edition_for,
)
from webapp.extensions import db
from webapp.hierarchy import ids_within
from webapp.models import (
    Partnership,
    User,
)

log = logging.getLogger(__name__)


# Partnerships ---------------------------------------------------------------------------------------------------------


def convened_partnerships(user: User) -> list[Partnership]:
    """The partnerships whose sessions ``user`` runs: the ones they convene (administrators: every one)."""
    return [p for p in db.session.scalars(select(Partnership).order_by(Partnership.name))
            if policy.can_convene(user, p)]  # fmt: skip


def readable_partnerships(user: User) -> list[Partnership]:
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


# The library ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LibraryFilter:
    """What a reader narrows the library to (each None: any). A briefing matches an area when its focus includes
    the area or an area above it, a theme when its focus names the theme."""

    partnership_id: int | None = None
    area_id: int | None = None
    theme_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None

    def keeps(self, held_on: date, area_ids: list[int] | None, theme_ids: list[int] | None) -> bool:
        if self.date_from and held_on < self.date_from:
            return False
        if self.date_to and held_on > self.date_to:
            return False
        if self.area_id is not None and area_ids and self.area_id not in ids_within(area_ids):
            return False
        return self.theme_id is None or self.theme_id in (theme_ids or [])


def library(
    user: User,
    filters: LibraryFilter = LibraryFilter(),
    partnerships: list[Partnership] | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[BriefingVersion]:
    """The latest served version of each published briefing the user may read, filtered, newest meeting first: only
    versions with an edition for the reader's audience (a funder reads funders' editions, of the partnerships they
    fund). ``partnerships``: :func:`readable_partnerships` of ``user`` when the caller has them already. ``limit`` and
    ``offset``: one page of them (:func:`library_ids` gives how many there are)."""
    ids = library_ids(user, filters, partnerships)
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
    user: User, filters: LibraryFilter = LibraryFilter(), partnerships: list[Partnership] | None = None
) -> list[int]:
    """The ids of :func:`library`'s versions in its order, read as narrow rows (no composition, no objects): a
    national funder's library holds hundreds of versions, each composition hundreds of kilobytes."""
    readable = readable_partnerships(user) if partnerships is None else partnerships
    audiences = {p.id: edition_for(audience_for(user, p)) for p in readable}
    allowed = {pid for pid, audience in audiences.items() if audience is not None}
    if filters.partnership_id is not None:
        allowed &= {filters.partnership_id}
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
        if audiences[row.partnership_id] in served and filters.keeps(row.held_on, row.area_ids, row.theme_ids):
            result.append(row)
    # Newest meeting first; among meetings on the same day, the latest published first (as before: stable sort).
    result.sort(key=lambda r: r.id, reverse=True)
    result.sort(key=lambda r: r.held_on, reverse=True)
    return [r.id for r in result]
