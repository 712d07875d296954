"""What a briefing is about: a session's focus (its areas and everything inside them, categories, themes, the
period and the one before it), the observations in focus as narrow rows, and where their areas sit (the ward each
is in).

The focus areas are widened downwards by the one hierarchy walk (``webapp.hierarchy.ids_within``);
:class:`Geography` walks up from the observations' areas to their ward.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import NamedTuple

from sqlalchemy import Integer, and_, literal, select
from sqlalchemy.orm import defer

from convening.models import Session
from nlp.themes.models import ThemeAssignment
from submissions.models import Observation, ObservationKind
from submissions.queries import partnership_observations
from webapp.disclosure import SharingLevel
from webapp.extensions import db
from webapp.hierarchy import ids_within
from webapp.models import Area, AreaLevel, Partnership

DEFAULT_PERIOD_DAYS = 84  # twelve weeks before the meeting


@dataclass
class Focus:
    partnership: Partnership
    area_ids: set[int]  # the focus areas and everything inside them
    area_names: list[str]
    category_ids: set[int]
    theme_ids: set[int]
    start: date
    end: date
    previous_start: date
    previous_end: date

    @property
    def period_label(self) -> str:
        return f"{_d(self.start)} to {_d(self.end)}"

    @property
    def previous_label(self) -> str:
        return f"{_d(self.previous_start)} to {_d(self.previous_end)}"


def _d(day: date) -> str:
    return f"{day.day} {day.strftime('%B %Y')}"


def focus_of(session: Session) -> Focus:
    end = session.period_end or session.held_on
    start = session.period_start or (end - timedelta(days=DEFAULT_PERIOD_DAYS - 1))
    length = (end - start).days + 1
    previous_end = start - timedelta(days=1)
    previous_start = previous_end - timedelta(days=length - 1)
    found = [db.session.get(Area, i) for i in session.focus_area_ids or []]
    areas = [a for a in found if a is not None]
    return Focus(
        partnership=session.partnership,
        area_ids=ids_within(a.id for a in areas),
        area_names=[a.name for a in areas],
        category_ids=set(session.focus_category_ids or []),
        theme_ids=set(session.focus_theme_ids or []),
        start=start,
        end=end,
        previous_start=previous_start,
        previous_end=previous_end,
    )


class Row(NamedTuple):
    """One observation in focus as the composer counts it: the columns it needs, never the text (only the quotes
    picked are read, :meth:`Composer.pick_quotes`). Read by :func:`focus_rows`, which keeps only live, redacted
    observations (the sharing rules of :func:`submissions.queries.partnership_observations`)."""

    id: int
    record_key: int
    period_start: date
    kind: ObservationKind
    area_id: int | None
    category_id: int
    organisation_id: int | None
    sharing_level: SharingLevel
    people_affected: int | None
    consent_to_quote: bool
    consent_to_quote_funders: bool
    assigned_theme_id: int | None  # under the active theme model, before merges (None: unthemed or no model)

    # What webapp.disclosure.may_quote reads besides the columns above: focus_rows keeps live, redacted ones only.
    @property
    def is_live(self) -> bool:
        return True

    @property
    def redacted_text(self) -> str:
        return ""


ROW_COLUMNS = (
    Observation.id,
    Observation.record_key,
    Observation.period_start,
    Observation.kind,
    Observation.area_id,
    Observation.category_id,
    Observation.organisation_id,
    Observation.sharing_level,
    Observation.people_affected,
    Observation.consent_to_quote,
    Observation.consent_to_quote_funders,
)


def focus_rows(focus: Focus, start: date, end: date, model_id: int | None = None) -> list[Row]:
    """The observations in focus from ``start`` to ``end`` that the partnership counts, as :class:`Row` (one query,
    ordered by id), with their theme under theme model ``model_id``."""
    theme = ThemeAssignment.theme_id if model_id is not None else literal(None, Integer)
    stmt = (
        partnership_observations(focus.partnership)
        .with_only_columns(*ROW_COLUMNS, theme, maintain_column_froms=True)
        .where(Observation.period_start >= start, Observation.period_start <= end)
    )
    if model_id is not None:
        stmt = stmt.outerjoin(
            ThemeAssignment,
            and_(ThemeAssignment.observation_id == Observation.id, ThemeAssignment.model_id == model_id),
        )
    if focus.area_ids:
        stmt = stmt.where(Observation.area_id.in_(focus.area_ids))
    if focus.category_ids:
        stmt = stmt.where(Observation.category_id.in_(focus.category_ids))
    # Core rows (no ORM loading): tens of thousands of them at a busy partnership.
    return list(map(Row._make, db.session.connection().execute(stmt).all()))


class Geography:
    """Where the observations' areas sit (id → parent and level, without boundaries), and the ward each LSOA belongs
    to (observations are placed at LSOA or ward level). Reads only the areas asked about and the ones above them up to
    their ward: a query per level of the geography, not the whole (national) area table."""

    STOPS = (AreaLevel.WARD, AreaLevel.LAD, AreaLevel.CUSTOM)

    def __init__(self, area_ids: Iterable[int | None] = ()):
        self.parents: dict[int, tuple[int | None, AreaLevel]] = {}
        frontier = {i for i in area_ids if i is not None}
        while frontier:
            rows = db.session.execute(
                select(Area.id, Area.parent_id, Area.level).where(Area.id.in_(sorted(frontier)))
            ).all()
            self.parents.update((i, (parent, level)) for i, parent, level in rows)
            frontier = {p for _, p, level in rows if p is not None and level not in self.STOPS} - set(self.parents)
        self._ward_of: dict[int | None, int | None] = {None: None}

    def ward_id_of(self, area_id: int | None) -> int | None:
        """The id of the ward ``area_id`` is in (itself for a ward), or None (the whole area, or above wards)."""
        if area_id not in self._ward_of:
            ward, current = None, area_id
            while current is not None and current in self.parents:
                parent, level = self.parents[current]
                if level in self.STOPS:
                    ward = current if level is AreaLevel.WARD else None
                    break
                current = parent
            self._ward_of[area_id] = ward
        return self._ward_of[area_id]

    @staticmethod
    def lsoas_in(ward_ids: set[int]) -> dict[int, int]:
        """``{LSOA id: ward id}`` of the LSOAs directly inside ``ward_ids`` (of every vintage)."""
        if not ward_ids:
            return {}
        rows = db.session.execute(
            select(Area.id, Area.parent_id).where(Area.level == AreaLevel.LSOA, Area.parent_id.in_(sorted(ward_ids)))
        )
        return {lsoa: ward for lsoa, ward in rows if ward is not None}

    def wards(self, partnership: Partnership, focus: Focus) -> list[Area]:
        wards = [a for a in partnership.areas if a.level is AreaLevel.WARD]
        if not wards:  # the partnership lists only its local authority: take the wards inside it
            las = {a.id for a in partnership.areas if a.level is AreaLevel.LAD}
            wards = (
                list(
                    db.session.scalars(
                        select(Area)
                        .options(defer(Area.boundary))
                        .where(Area.level == AreaLevel.WARD, Area.parent_id.in_(las))
                        .order_by(Area.id)
                    )
                )
                if las
                else []
            )
        if focus.area_ids:
            wards = [w for w in wards if w.id in focus.area_ids] or wards
        return sorted(wards, key=lambda a: a.name)
