"""The briefing composer: from a session's focus to the facts of a briefing, and from the facts to each edition.

:class:`Composer` reads observations only through :func:`submissions.queries.partnership_observations` (the sharing
rules live there: agreement accepted, partnership-level sharing or wider, live and redacted), indicator values
through the indicators models, and themes through the active theme model (until there is one, observations are
grouped by their category, and the provenance appendix says so). It counts the focus once per edition
(:data:`webapp.disclosure.EDITIONS`): the partnership's edition counts every observation shared with the
partnership, the funders' edition only those whose sharing level includes funders, and each picks its quotes by its
own audience's rules (level and consent). What it stores (``facts``) are tallies — count, record-key sum and the
observations' ids — never numbers as shown, so that:

- every figure is released through :func:`webapp.disclosure.release` whenever an edition is shown or rendered to a
  PDF, the same way as on the area and theme pages (changing k or the perturbation table re-releases every edition);
- an erasure recounts a published composition without the erased observation (:func:`without_observation`).

:class:`Edition` writes each section's Markdown (sanitised when rendered) and its charts from the facts: words that
depend on counts (rising, falling, gaps) are judged on the released counts. A convenor's own text keeps its figures
as ``{{n:cell}}`` placeholders, released when shown.
"""

from __future__ import annotations

import heapq
import json
import logging
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from operator import attrgetter
from typing import NamedTuple

from sqlalchemy import Integer, and_, exists, literal, or_, select
from sqlalchemy.orm import contains_eager, defer, selectinload

from convening import sections_grants, sections_index, sections_network
from convening.models import Action, SectionKind, Session
from indicators.deprivation import is_deprivation_index
from submissions.models import Category, Observation, ObservationKind
from submissions.queries import partnership_observations
from webapp import disclosure
from webapp.disclosure import (
    EDITIONS,
    Audience,
    Released,
    SharingLevel,
    State,
    Tally,
    method_note,
    release,
    released_with,
    threshold,
)
from webapp.extensions import db
from webapp.hierarchy import ids_within
from webapp.models import Area, AreaLevel, Organisation, OrgKind, Partnership

log = logging.getLogger(__name__)

UNTHEMED = "Not yet themed"
DEFAULT_PERIOD_DAYS = 84  # twelve weeks before the meeting
QUOTES_PER_GROUP = 2
MAX_QUOTES = 10
MAX_QUOTE_CHARS = 400
MAX_WARNING_QUESTIONS = 3  # early warnings offered as discussion questions, strongest first


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


# Focus -----------------------------------------------------------------------------------------------------------


def focus_of(session: Session) -> Focus:
    end = session.period_end or session.held_on
    start = session.period_start or (end - timedelta(days=DEFAULT_PERIOD_DAYS - 1))
    length = (end - start).days + 1
    previous_end = start - timedelta(days=1)
    previous_start = previous_end - timedelta(days=length - 1)
    areas = [db.session.get(Area, i) for i in session.focus_area_ids or []]
    areas = [a for a in areas if a is not None]
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
    from nlp.themes.models import ThemeAssignment

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


# Geography helpers -------------------------------------------------------------------------------------------------


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
        return dict(rows.all())

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


# Charts (plain Vega-Lite dicts with inline data: the same specification draws on the web and in the PDF) ----------


SERIES_COLOURS = {
    "This period": "#0b5a6b",
    "Previous period": "#9aa5b1",
    "Needs": "#c75000",
    "Assets": "#0b5a6b",
}


def bar_chart(rows: list[dict], title: str, x_title: str, description: str, color_field: str | None = None) -> dict:
    encoding: dict = {
        "y": {"field": "label", "type": "nominal", "title": None, "sort": None, "axis": {"labelLimit": 220}},
        "x": {"field": "value", "type": "quantitative", "title": x_title},
    }
    if color_field:
        series = list(dict.fromkeys(r[color_field] for r in rows))
        scale = {"domain": series, "range": [SERIES_COLOURS.get(name, "#5b3a8c") for name in series]}
        encoding["color"] = {
            "field": color_field, "type": "nominal", "title": None, "legend": {"orient": "bottom"}, "scale": scale,
        }  # fmt: skip
        encoding["yOffset"] = {"field": color_field, "type": "nominal"}
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": title,
        "description": description,
        "width": 380,
        "data": {"values": rows},
        "mark": {"type": "bar"},
        "encoding": encoding,
    }


def line_chart(rows: list[dict], title: str, description: str) -> dict:
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": title,
        "description": description,
        "width": 420,
        "height": 160,
        "data": {"values": rows},
        "mark": {"type": "line", "point": True},
        "encoding": {
            "x": {"field": "week", "type": "temporal", "title": "Week beginning", "axis": {"format": "%d %b"}},
            "y": {"field": "value", "type": "quantitative", "title": "Observations"},
            "color": {
                "field": "series",
                "type": "nominal",
                "title": None,
                "legend": {"orient": "bottom"},
                "scale": {"domain": ["Needs", "Assets"], "range": [SERIES_COLOURS["Needs"], SERIES_COLOURS["Assets"]]},
            },  # fmt: skip
        },
    }


def map_chart(features: list[dict], title: str, description: str) -> dict:
    """Wards coloured by the number of observations; wards whose count is suppressed or zero are drawn grey."""
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": title,
        "description": description,
        "width": 440,
        "height": 400,
        "data": {"values": features, "format": {"type": "json"}},
        "projection": {"type": "mercator"},
        "layer": [
            {"mark": {"type": "geoshape", "fill": "#e5e5e5", "stroke": "#ffffff", "strokeWidth": 0.6}},
            {
                "transform": [{"filter": "isValid(datum.properties.value) && datum.properties.value > 0"}],
                "mark": {"type": "geoshape", "stroke": "#ffffff", "strokeWidth": 0.6},
                "encoding": {
                    "color": {
                        "field": "properties.value",
                        "type": "quantitative",
                        "title": "Observations",
                        "scale": {"scheme": "teals"},
                        "legend": {"orient": "bottom", "gradientLength": 220},
                    }
                },
            },
        ],
    }


def _ring_area(ring: list) -> float:
    return sum(x1 * y2 - x2 * y1 for (x1, y1, *_), (x2, y2, *_) in zip(ring, ring[1:], strict=False)) / 2


def d3_winding(geometry: dict) -> dict:
    """GeoJSON (RFC 7946: exterior rings anticlockwise) rewound for d3-geo, which Vega uses and which reads an
    anticlockwise exterior ring as "the whole globe except this shape": exteriors clockwise, holes anticlockwise."""

    def fix(polygon: list) -> list:
        out = []
        for i, ring in enumerate(polygon):
            clockwise = _ring_area(ring) < 0
            want_clockwise = i == 0
            out.append(ring if clockwise == want_clockwise else list(reversed(ring)))
        return out

    if geometry.get("type") == "Polygon":
        return {"type": "Polygon", "coordinates": fix(geometry["coordinates"])}
    if geometry.get("type") == "MultiPolygon":
        return {"type": "MultiPolygon", "coordinates": [fix(p) for p in geometry["coordinates"]]}
    return geometry


def chart(spec: dict, alt: str, caption: str) -> dict:
    return {"spec": spec, "alt": alt, "caption": caption}


# Facts: what the composer counts, per edition -----------------------------------------------------------------------


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "x"


def _cell_facts(rows: list[Row], within: tuple[str, ...] = ()) -> dict:
    """A cell as stored: its tally, its observations' ids (so an erasure can recount it) and the keys of the larger
    cells of the same edition that contain it (a total of fewer than k is not broken down). ``rows`` come in id
    order (:func:`focus_rows`), so the ids are too."""
    tally = Tally(len(rows), sum(map(_RECORD_KEY, rows)))
    return {"n": tally.count, "ks": tally.key_sum, "ids": list(map(_ID, rows)), "within": list(within)}


_ID, _RECORD_KEY = attrgetter("id"), attrgetter("record_key")


def _quote_order(row: Row) -> tuple[int, int]:
    """Quotes affecting most people first, then the earliest recorded."""
    return -(row.people_affected or 0), row.id


class Composer:
    """Counts a session's focus once per edition: the partnership's (observations shared with it) and the funders'
    (only those whose sharing level includes funders), and picks each edition's quotes by its own rules.

    The observations in focus are read once, as narrow rows (:func:`focus_rows`: ids, record keys and the columns
    cells are grouped by, with their theme joined in SQL), and every cell is tallied in one pass over them; only the
    quotes picked are read with their text. The facts keep every cell's observation ids (an erasure recounts a
    published briefing from them), so each observation is read once rather than once per cell."""

    def __init__(self, session: Session):
        self.session = session
        self.partnership = session.partnership
        self.focus = focus_of(session)
        self.categories = {c.id: c.name for c in db.session.scalars(select(Category))}
        self.theme_model = self._active_model()
        # {assigned theme id: (theme id after merges, label)}, None for a hidden theme; None without a theme model
        # (then observations are grouped by category).
        self.theme_of: dict[int, tuple[int, str] | None] | None = None
        rows = focus_rows(
            self.focus,
            self.focus.previous_start,
            self.focus.end,
            self.theme_model.id if self.theme_model is not None else None,
        )
        if self.theme_model is not None:
            self.theme_of = self._themes({r.assigned_theme_id for r in rows} - {None})
            if self.focus.theme_ids:
                rows = [r for r in rows if self.theme_id(r) in self.focus.theme_ids]
        current = [r for r in rows if r.period_start >= self.focus.start]
        previous = [r for r in rows if r.period_start <= self.focus.previous_end]
        # The funders count a subset of what the partnership counts (the same rules, fewer sharing levels).
        levels = {audience: frozenset(audience.counted_levels) for audience in EDITIONS}
        self.observations = {
            audience: (
                [r for r in current if r.sharing_level in levels[audience]],
                [r for r in previous if r.sharing_level in levels[audience]],
            )
            for audience in EDITIONS
        }
        self.geo = Geography({r.area_id for r in current})  # wards are counted this period only
        org_ids = {r.organisation_id for r in rows if r.organisation_id is not None}
        self.org_kinds: dict[int, OrgKind] = (
            dict(
                db.session.execute(select(Organisation.id, Organisation.kind).where(Organisation.id.in_(org_ids))).all()
            )
            if org_ids
            else {}
        )

    @property
    def current(self) -> list[Row]:
        return self.observations[Audience.PARTNERSHIP][0]

    @property
    def previous(self) -> list[Row]:
        return self.observations[Audience.PARTNERSHIP][1]

    def _active_model(self):
        try:
            from nlp.themes.models import active_model
        except ImportError:
            return None
        return active_model(self.partnership.id)

    def _themes(self, assigned: set[int]) -> dict[int, tuple[int, str] | None]:
        """``{theme id: (theme id after merges, label)}`` (None: hidden) for the themes observations are assigned."""
        from nlp.themes.models import Theme

        if not assigned:
            return {}
        # The partnership's themes in one query, so that following merges finds them in the session.
        themes = {
            t.id: t
            for t in db.session.scalars(
                select(Theme).where(or_(Theme.partnership_id == self.partnership.id, Theme.id.in_(assigned)))
            )
        }
        out: dict[int, tuple[int, str] | None] = {}
        for theme_id in assigned:
            theme = themes[theme_id].canonical()
            out[theme_id] = None if theme.hidden else (theme.id, theme.label)
        return out

    def theme_id(self, row: Row) -> int | None:
        """The theme (after merges) ``row`` is counted under; None when unthemed or its theme is hidden."""
        themed = self.theme_of.get(row.assigned_theme_id) if self.theme_of and row.assigned_theme_id else None
        return themed[0] if themed else None

    @property
    def group_word(self) -> str:
        return "Theme" if self.theme_of is not None else "Category"

    def theme_ids_used(self) -> list[int]:
        if self.theme_of is None:
            return []
        return sorted({t for t in map(self.theme_id, self.current) if t is not None})

    @property
    def has_data(self) -> bool:
        return bool(self.current or self.previous)

    def group_name(self, row: Row) -> str:
        if self.theme_of is not None:
            themed = self.theme_of.get(row.assigned_theme_id)
            return themed[1] if themed else UNTHEMED
        return self.categories.get(row.category_id, "Uncategorised")

    # Facts ----------------------------------------------------------------------------------------------------------

    def facts(self) -> dict:
        """Everything the sections are written from: per edition, its cells (tallies with ids), groups, weeks,
        wards, contributor kinds and quotes; shared by both, the indicator context, carried actions and labels."""
        wards = self.geo.wards(self.partnership, self.focus)
        indicator_rows, shares = self._indicator_context(wards)
        actions = self.carried_actions()
        links = action_links(actions)
        picked = {audience: self.pick_quotes(self.observations[audience][0], audience) for audience in EDITIONS}
        texts = self._quote_texts({r.id for rows in picked.values() for _, r in rows})
        facts = {
            "shared": {
                "group_word": self.group_word,
                "period": self.focus.period_label,
                "previous": self.focus.previous_label,
                "where": list(self.focus.area_names),
                "partnership": self.partnership.name,
                "wards": [{"id": w.id, "name": w.name, "share": shares.get(w.id)} for w in wards],
                "indicators": indicator_rows,
                "sources": list(self.indicator_sources),
                "deprived": bool(shares),
                "actions": [
                    {
                        "id": a.id,
                        "description": a.description,
                        "owner": a.owner.name if a.owner else "unassigned",
                        "due": _d(a.due_on) if a.due_on else "no date",
                        "status": a.status.label,
                        "open": a.status.is_open,
                        # Theme labels and area names only: a briefing never carries observation-level detail.
                        "about": "; ".join(links[a.id].themes + links[a.id].areas),
                    }
                    for a in actions
                ],
                "theme_model": self._theme_model_text(),
                "theme_ids": self.theme_ids_used(),
                "grants": sections_grants.facts(self.partnership, wards, self.focus),
                **sections_index.facts(self.partnership),
            },
            **{
                audience.value: self._edition_facts(audience, wards, self._quotes(picked[audience], texts))
                for audience in EDITIONS
            },
        }
        # Early warnings are the partnership's to discuss (themes over its own observations); the funders' edition
        # has none. Theme, ward and indicators only, no counts: the facts then hold nothing an erasure must change.
        facts[Audience.PARTNERSHIP.value]["warnings"] = [w.as_fact() for w in self.early_warnings(wards)]
        sections_network.add_facts(self, facts)
        return facts

    def early_warnings(self, wards: list[Area]) -> list:
        """Need themes rising in the focus wards while their official indicators look stable
        (:mod:`indicators.warnings`), over the 6 complete months before the period's end."""
        from indicators import warnings

        if self.theme_model is None or not wards:
            return []
        found = warnings.early_warnings(self.partnership, wards, until=self.focus.end + timedelta(days=1))
        return [w for w in found if not self.focus.theme_ids or w.theme_id in self.focus.theme_ids]

    def _theme_model_text(self) -> str | None:
        model = self.theme_model
        if model is None:
            return None
        return (
            f"version {model.version} ({model.embedding_model}; fitted {model.fitted_at:%d %B %Y}; "
            f"{model.theme_count} themes)"
        )

    def _edition_facts(self, audience: Audience, wards: list[Area], quotes: list[dict]) -> dict:
        now, before = self.observations[audience]
        # One pass over the rows, each into the parts it belongs to; the cells below are written in a fixed order.
        names_now = list(map(self.group_name, now))
        names_before = list(map(self.group_name, before))
        ward_of = self.geo.ward_id_of
        g_now: dict[str, list[Row]] = defaultdict(list)
        g_kind: dict[tuple[str, str], list[Row]] = defaultdict(list)
        g_before: dict[str, list[Row]] = defaultdict(list)
        week_kind: dict[tuple[str, str], list[Row]] = defaultdict(list)
        weeks_seen: dict[date, str] = {}
        placed: list[Row] = []
        by_ward: dict[int, list[Row]] = defaultdict(list)
        by_org: dict[int, list[Row]] = defaultdict(list)
        for r, name in zip(now, names_now, strict=True):
            g_now[name].append(r)
            g_kind[(name, r.kind)].append(r)
            week = weeks_seen.get(r.period_start)
            if week is None:
                week = weeks_seen[r.period_start] = (
                    r.period_start - timedelta(days=r.period_start.weekday())
                ).isoformat()
            week_kind[(week, r.kind)].append(r)
            ward = ward_of(r.area_id)
            if ward is not None:
                placed.append(r)
                by_ward[ward].append(r)
            if r.organisation_id is not None:
                by_org[r.organisation_id].append(r)
        for r, name in zip(before, names_before, strict=True):
            g_before[name].append(r)

        cells: dict[str, dict] = {
            "total.now": _cell_facts(now),
            "total.before": _cell_facts(before),
        }
        groups: dict[str, str] = {}
        for name in sorted({*names_now, *names_before}):
            key = _slug(name)
            while key in groups.values():
                key += "-"
            groups[name] = key
            cells[f"g.{key}.now"] = _cell_facts(g_now.get(name, []), ("total.now",))
            cells[f"g.{key}.before"] = _cell_facts(g_before.get(name, []), ("total.before",))
            for kind in ObservationKind:
                cells[f"g.{key}.{kind.value}"] = _cell_facts(
                    g_kind.get((name, kind), []), (f"g.{key}.now", "total.now")
                )
        weeks = sorted(set(weeks_seen.values()))
        for week in weeks:
            for kind in ObservationKind:
                cells[f"w.{week}.{kind.value}"] = _cell_facts(week_kind.get((week, kind), []), ("total.now",))
        cells["placed"] = _cell_facts(placed, ("total.now",))
        for w in wards:
            cells[f"ward.{w.id}"] = _cell_facts(by_ward.get(w.id, []), ("placed", "total.now"))
        kinds: dict[str, dict] = {}
        for label, members in self._contributor_kinds(now).items():
            key = _slug(label)
            cells[f"kind.{key}"] = _cell_facts(members, ("total.now",))
            orgs = {r.organisation_id for r in members if r.organisation_id is not None}
            kinds[key] = {"label": label, "organisations": len(orgs), "resident": label == "Residents"}
        contributors = {}
        for org_id in sorted(by_org):
            cells[f"org.{org_id}"] = _cell_facts(by_org[org_id])
            contributors[str(org_id)] = f"org.{org_id}"
        return {
            "audience": audience.value,
            "cells": cells,
            "groups": groups,
            "weeks": weeks,
            "kinds": kinds,
            "contributors": contributors,
            "quotes": quotes,
        }

    def _contributor_kinds(self, rows: list[Row]) -> dict[str, list[Row]]:
        """Observations by who contributed them, never narrower than k organisations: a kind of organisation has its
        own row only when the partnership has at least k members of that kind; the others are "Partner
        organisations"; residents are a row of their own."""
        k = threshold()
        members_of_kind = Counter(o.kind for o in self.partnership.members)
        out: dict[str, list[Row]] = defaultdict(list)
        label_of: dict[int, str] = {}
        for r in rows:
            if r.organisation_id is None:
                out["Residents"].append(r)
                continue
            label = label_of.get(r.organisation_id)
            if label is None:
                kind = self.org_kinds.get(r.organisation_id)
                label = OrgKind(kind).label if kind and members_of_kind[kind] >= k else "Partner organisations"
                label_of[r.organisation_id] = label
            out[label].append(r)
        return dict(sorted(out.items()))

    def pick_quotes(self, rows: list[Row], audience: Audience) -> list[tuple[str, Row]]:
        """``(group, row)`` of up to two quotes per group, ten in all, among the observations ``audience`` may read
        as quotes (webapp.disclosure.may_quote: level, consent, redacted, live), those affecting most people first;
        the groups with most quotable observations first."""
        # The layer's rule alone decides (looked up on the module, so that a test that replaces it reaches here).
        by_group: dict[str, list[Row]] = defaultdict(list)
        for r in rows:
            if disclosure.may_quote(r, audience):
                by_group[self.group_name(r)].append(r)
        best = {g: heapq.nsmallest(QUOTES_PER_GROUP, found, key=_quote_order) for g, found in by_group.items()}
        picked: list[tuple[str, Row]] = []
        # Most quotable observations first; between equals, the group with the strongest quote first.
        for group in sorted(by_group, key=lambda g: (-len(by_group[g]), _quote_order(best[g][0]))):
            for r in best[group]:
                if len(picked) >= MAX_QUOTES:
                    break
                picked.append((group, r))
        return picked

    def _quote_texts(self, ids: set[int]) -> dict[int, str]:
        """The redacted text of the quotes picked (at most MAX_QUOTES per edition): the only text the composer reads."""
        if not ids:
            return {}
        rows = db.session.execute(select(Observation.id, Observation.redacted_text).where(Observation.id.in_(ids)))
        return dict(rows.all())

    def _quotes(self, picked: list[tuple[str, Row]], texts: dict[int, str]) -> list[dict]:
        return [
            {
                "observation_id": r.id,
                "group": group,
                "text": _trim(texts[r.id]),
                "resident": r.organisation_id is None,
                "org_kind": self.org_kinds[r.organisation_id].value if r.organisation_id is not None else None,
            }
            for group, r in picked
        ]

    # Indicators (the same for every edition) -------------------------------------------------------------------------

    def _indicator_context(self, wards: list[Area]) -> tuple[list[dict], dict[int, float]]:
        """Latest values per indicator for the focus wards, and each ward's share of LSOAs in the most deprived 20%."""
        self.indicator_sources: list[dict] = []
        try:
            from indicators.models import Indicator, IndicatorDataset, IndicatorValue, ValueKind
        except ImportError:
            return [], {}
        ward_ids = {w.id for w in wards}
        lsoa_ward = self.geo.lsoas_in(ward_ids)
        in_focus_ids = ward_ids | self.focus.area_ids
        if not self.focus.area_ids:
            in_focus_ids |= {a.id for a in self.partnership.areas}
        results: list[dict] = []
        deprived_share: dict[int, float] = {}
        has_values = exists().where(IndicatorValue.indicator_id == Indicator.id)
        indicators = [
            ind
            for ind, present in db.session.execute(
                select(Indicator, has_values)
                .join(IndicatorDataset)
                .options(contains_eager(Indicator.dataset))
                .order_by(IndicatorDataset.release_date.desc(), Indicator.position)
            )
            if present
        ]
        # The newest release of each measure (an older one is found by the dataset and indicator keys, else by name).
        seen_names: set[str] = set()
        newest = []
        for ind in indicators:
            same = f"{ind.dataset.key}:{ind.key}" if ind.dataset.key and ind.key else ind.name
            if same not in seen_names:
                seen_names.add(same)
                newest.append(ind)
        ranks = {i.id for i in newest if i.value_kind is ValueKind.RANK and i.level is AreaLevel.LSOA}
        others = {i.id for i in newest} - ranks
        # Only the values of the focus: the LSOAs in its wards for ranks, the focus areas for the rest (two queries).
        values: dict[int, list] = defaultdict(list)
        for ids, areas in ((ranks, set(lsoa_ward)), (others, in_focus_ids)):
            if ids and areas:
                for v in db.session.execute(
                    select(IndicatorValue.indicator_id, IndicatorValue.area_id, IndicatorValue.decile,
                           IndicatorValue.value, IndicatorValue.suppressed, IndicatorValue.period_key,
                           IndicatorValue.period_start)
                    .where(IndicatorValue.indicator_id.in_(ids), IndicatorValue.area_id.in_(areas))
                    .order_by(IndicatorValue.id)
                ):  # fmt: skip
                    values[v.indicator_id].append(v)
        for ind in newest:
            ds = ind.dataset
            if ind.value_kind is ValueKind.RANK and ind.level is AreaLevel.LSOA:
                per_ward: dict[int, list[int]] = defaultdict(list)
                for v in values[ind.id]:
                    if v.decile is not None:
                        per_ward[lsoa_ward[v.area_id]].append(v.decile)
                if not per_ward:
                    continue
                shares = {w: sum(1 for d in ds_ if d <= 2) / len(ds_) for w, ds_ in per_ward.items()}
                if is_deprivation_index(ind) or not deprived_share:
                    deprived_share = shares
                all_deciles = [d for ds_ in per_ward.values() for d in ds_]
                share = sum(1 for d in all_deciles if d <= 2) / len(all_deciles)
                results.append(
                    {
                        "indicator": ind.name,
                        "value": f"{share:.0%} of LSOAs in the most deprived 20%",
                        "period": values[ind.id][0].period_key,
                        "trend": "single release",
                        "source": f"{ds.publisher or ds.title}, released {ds.release_label}, {ind.geography_label}",
                        "sort": -share,
                    }
                )
                self._cite(ds)
            else:
                in_focus = values[ind.id]
                if not in_focus:
                    continue
                by_period: dict[str, list[float]] = defaultdict(list)
                starts: dict[str, date] = {}
                for v in in_focus:
                    if v.value is not None and not v.suppressed:
                        by_period[v.period_key].append(v.value)
                        starts[v.period_key] = v.period_start
                if not by_period:
                    continue
                ordered = sorted(by_period, key=lambda p: starts[p])
                latest = ordered[-1]
                mean = sum(by_period[latest]) / len(by_period[latest])
                trend = "single period"
                if len(ordered) > 1:
                    prev = sum(by_period[ordered[-2]]) / len(by_period[ordered[-2]])
                    trend = "up" if mean > prev * 1.02 else "down" if mean < prev * 0.98 else "about the same"
                    trend += f" since {ordered[-2]}"
                unit = f" {ind.unit}" if ind.unit and ind.unit not in ("%",) else ind.unit or ""
                results.append(
                    {
                        "indicator": ind.name,
                        "value": f"{mean:,.1f}{unit}",
                        "period": latest,
                        "trend": trend,
                        "source": f"{ds.publisher or ds.title}, released {ds.release_label}, {ind.geography_label}",
                        "sort": 0,
                    }
                )
                self._cite(ds)
        from indicators import gaps

        # Evidence gaps use the one rule of indicators.gaps (the area profiles and the city-wide list use it too):
        # the latest IMD's share of each ward's LSOAs in the most deprived 20%.
        return results[:14], gaps.deprived_shares(wards) or deprived_share

    def _cite(self, ds) -> None:
        entry = {"title": ds.title, "publisher": ds.publisher, "licence": ds.licence, "release": ds.release_label}
        if entry not in self.indicator_sources:
            self.indicator_sources.append(entry)

    # Actions ---------------------------------------------------------------------------------------------------------

    def carried_actions(self) -> list[Action]:
        """Every action of the last earlier session, and the open ones of the sessions before it (one query for the
        sessions, one for their actions with their owners)."""
        earlier = list(
            db.session.scalars(
                select(Session)
                .where(
                    Session.partnership_id == self.partnership.id,
                    Session.id != self.session.id,
                    Session.held_on <= self.session.held_on,
                )
                .order_by(Session.held_on.desc(), Session.id.desc())
            )
        )
        if not earlier:
            return []
        by_session: dict[int, list[Action]] = defaultdict(list)
        for action in db.session.scalars(
            select(Action)
            .options(selectinload(Action.owner))
            .where(Action.session_id.in_([s.id for s in earlier]))
            .order_by(Action.id)
        ):
            by_session[action.session_id].append(action)
        actions = list(by_session[earlier[0].id])
        for s in earlier[1:]:
            actions += [a for a in by_session[s.id] if a.status.is_open]
        return actions


def wanted(kind: SectionKind, facts: dict) -> bool:
    """Whether a machine section is written for these facts (optional sections need their data)."""
    return kind is not SectionKind.INDEX or sections_index.wanted(facts.get("shared", {}))


def compose(session: Session) -> tuple[dict, Composer]:
    """The facts of ``session``'s briefing from the latest data, and the composer that counted them."""
    composer = Composer(session)
    return composer.facts(), composer


# Editions: the sections written from the facts, through the disclosure layer -----------------------------------------

TOKEN = re.compile(r"\{\{n:([A-Za-z0-9_.\-]+)\}\}")
DATA_SECTIONS = (
    SectionKind.HEADLINES,
    SectionKind.NEEDS_ASSETS,
    SectionKind.INDICATORS,
    SectionKind.INDEX,
    SectionKind.MAP,
    SectionKind.QUOTES,
    SectionKind.GAPS,
    SectionKind.NETWORK,
    SectionKind.GRANTS,
    SectionKind.ACTIONS,
    SectionKind.QUESTIONS,
)
# Written from the data, in this order, by compose_briefing; the provenance appendix always closes a briefing.
MACHINE_SECTIONS = DATA_SECTIONS
FUNDERS_NOTE = (
    "The funders' edition: every figure counts only observations their organisations shared with funders, and quotes "
    "appear only where the people concerned also agreed that funders may read them. Written by commintel from the "
    "same composition as the partnership's edition."
)


class Edition:
    """One audience's edition of a composition: releases its cells and writes its sections.

    ``tokens``: write ``{{n:cell}}`` placeholders instead of released numbers (the draft a convenor edits: the
    numbers stay live, released whenever the section is shown).
    """

    def __init__(self, facts: dict, audience: Audience, partnership: Partnership | None, tokens: bool = False):
        self.audience = audience
        self.shared = facts.get("shared", {})
        self.facts = facts.get(audience.value, {})
        self.cells = self.facts.get("cells", {})
        self.partnership = partnership
        self.tokens = tokens
        self.k = threshold()

    # Cells ---------------------------------------------------------------------------------------------------------

    def tally(self, key: str) -> Tally:
        return Tally.from_json(self.cells.get(key))

    def rel(self, key: str) -> Released:
        cell = self.cells.get(key)
        if cell is None:
            return release(Tally())
        return release(Tally.from_json(cell), [self.tally(w) for w in cell.get("within", [])])

    def n(self, key: str) -> str:
        return f"{{{{n:{key}}}}}" if self.tokens else str(self.rel(key))

    def ng(self, group_key: str, part: str) -> str:
        return self.n(f"g.{group_key}.{part}")

    def nward(self, ward: dict) -> str:
        return self.n(f"ward.{ward['id']}")

    def resolve(self, markdown: str) -> str:
        """A convenor's text with its ``{{n:cell}}`` placeholders released (an unknown cell reads "not available")."""
        return TOKEN.sub(lambda m: str(self.rel(m.group(1))) if m.group(1) in self.cells else "not available",
                         markdown or "")  # fmt: skip

    @property
    def group_word(self) -> str:
        return self.shared.get("group_word", "Theme")

    def _where(self) -> str:
        where = self.shared.get("where") or []
        return f" in {', '.join(where)}" if where else ""

    def changes(self) -> list[dict]:
        """Each group's change between the periods, judged on the released counts only."""
        rows = []
        for name, key in self.facts.get("groups", {}).items():
            now, before = self.rel(f"g.{key}.now"), self.rel(f"g.{key}.before")
            if now.suppressed or before.suppressed:
                direction = "not comparable (small numbers)"
            elif now.value >= before.value * 1.25 and now.value - before.value >= 3:
                direction = "rising"
            elif now.value <= before.value * 0.8 and before.value - now.value >= 3:
                direction = "falling"
            else:
                direction = "steady"
            rows.append({"name": name, "key": key, "now": now, "before": before, "direction": direction})
        rows.sort(key=lambda r: (-r["now"].shown_value, -r["before"].shown_value, r["name"]))
        return rows

    # Sections -------------------------------------------------------------------------------------------------------

    def section(self, kind: SectionKind) -> tuple[str, list[dict]]:
        """(Markdown, charts) of a section written from the facts."""
        writer = {
            SectionKind.HEADLINES: self.headlines,
            SectionKind.NEEDS_ASSETS: self.needs_assets,
            SectionKind.INDICATORS: self.indicators,
            SectionKind.MAP: self.map,
            SectionKind.QUOTES: self.quotes,
            SectionKind.GAPS: self.gaps,
            SectionKind.GRANTS: lambda: sections_grants.write(self),
            SectionKind.ACTIONS: self.actions,
            SectionKind.QUESTIONS: self.questions,
            SectionKind.NETWORK: lambda: sections_network.write(self),
            SectionKind.PROVENANCE: self.provenance,
            SectionKind.INDEX: lambda: sections_index.write(self),
        }.get(kind)
        return writer() if writer else ("", [])

    def headlines(self) -> tuple[str, list[dict]]:
        total_now, total_before = self.rel("total.now"), self.rel("total.before")
        lines = [
            f"From {self.shared.get('period', '')}, member organisations and residents recorded "
            f"**{self.n('total.now')}** observations{self._where()}, against {self.n('total.before')} in the previous "
            f"period of the same length ({self.shared.get('previous', '')}).",
            "",
        ]
        if not (total_now.perturbed or total_before.perturbed):
            lines.append(f"With fewer than {self.k} observations in each period, they are not broken down further.")
            return "\n".join(lines), []
        rows = self.changes()
        rising = [r for r in rows if r["direction"] == "rising" and r["name"] != UNTHEMED]
        falling = [r for r in rows if r["direction"] == "falling" and r["name"] != UNTHEMED]
        for label, group in (("Rising", rising), ("Falling", falling)):
            if group:
                items = "; ".join(
                    f"{r['name']} ({self.ng(r['key'], 'now')}, was {self.ng(r['key'], 'before')})" for r in group[:5]
                )
                lines.append(f"- **{label}:** {items}.")
        if not rising and not falling:
            lines.append("- No group of observations rose or fell markedly between the two periods.")
        shown = [r for r in rows if r["now"].perturbed or r["before"].perturbed]
        small = sorted(r["name"] for r in rows if r not in shown and (r["now"].hidden or r["before"].hidden))
        if shown:
            lines += ["", f"| {self.group_word} | This period | Previous period | Change |", "|---|---:|---:|---|"]
            lines += [
                f"| {_cell(r['name'])} | {self.ng(r['key'], 'now')} | {self.ng(r['key'], 'before')} | "
                f"{r['direction']} |"
                for r in shown
            ]
        if small:
            lines += ["", f"Fewer than {self.k} observations in each period: {', '.join(small)}."]
        charts = []
        if not self.tokens:
            chart_rows = [
                {"label": r["name"], "value": c.value, "period": series}
                for r in rows
                for series, c in (("This period", r["now"]), ("Previous period", r["before"]))
                if c.perturbed
            ]
            if chart_rows:
                charts.append(
                    chart(
                        bar_chart(
                            chart_rows,
                            f"Observations by {self.group_word.lower()}",
                            "Observations",
                            "Observations this period and the previous one",
                            color_field="period",
                        ),
                        f"Bar chart of observations by {self.group_word.lower()} in this period and the previous "
                        "period; the table below gives the same figures.",
                        f"This period: {self.shared.get('period', '')}. Previous: {self.shared.get('previous', '')}. "
                        f"Counts below {self.k} are not drawn.",
                    )
                )
            weekly = [
                {"week": week, "series": series, "value": c.value}
                for week in self.facts.get("weeks", [])
                for series, c in (("Needs", self.rel(f"w.{week}.need")), ("Assets", self.rel(f"w.{week}.asset")))
                if c.perturbed
            ]
            if weekly:
                charts.append(
                    chart(
                        line_chart(weekly, "Observations per week", "Needs and assets recorded per week"),
                        "Line chart of needs and assets recorded per week during the period.",
                        f"Weeks with fewer than {self.k} observations of a kind are not drawn.",
                    )
                )
        return "\n".join(lines), charts

    def needs_assets(self) -> tuple[str, list[dict]]:
        word = self.group_word.lower()
        lines = [f"What groups see going wrong (needs) beside what is helping (assets), by {word}, in this period.", ""]
        if not self.rel("total.now").perturbed:
            lines.append(f"Fewer than {self.k} observations this period: not broken down.")
            return "\n".join(lines), []
        groups = self.facts.get("groups", {})
        rows = []
        for name, key in groups.items():
            need, asset = self.rel(f"g.{key}.need"), self.rel(f"g.{key}.asset")
            rows.append((name, key, need, asset))
        rows.sort(key=lambda r: (-(r[2].shown_value + r[3].shown_value), r[0]))
        shown = [r for r in rows if r[2].perturbed or r[3].perturbed]
        if shown:
            lines += [f"| {self.group_word} | Needs | Assets |", "|---|---:|---:|"]
            lines += [
                f"| {_cell(name)} | {self.ng(key, 'need')} | {self.ng(key, 'asset')} |" for name, key, _, _ in shown
            ]
        else:
            lines.append(f"No {word} has {self.k} or more needs or assets this period.")
        small = sorted(name for name, _, need, asset in rows if (name, _, need, asset) not in shown and
                       (need.hidden or asset.hidden))  # fmt: skip
        if small:
            lines += ["", f"Fewer than {self.k} needs and fewer than {self.k} assets: {', '.join(small)}."]
        thin = [name for name, _, need, asset in rows if need.perturbed and asset.state is State.ZERO]
        if thin:
            lines += ["", f"Needs with no asset recorded beside them: {', '.join(thin)}."]
        charts = []
        if not self.tokens:
            chart_rows = [
                {"label": name, "value": c.value, "kind": series}
                for name, _, need, asset in rows
                for series, c in (("Needs", need), ("Assets", asset))
                if c.perturbed
            ]
            if chart_rows:
                charts.append(
                    chart(
                        bar_chart(
                            chart_rows,
                            f"Needs and assets by {word}",
                            "Observations",
                            "Needs beside assets",
                            color_field="kind",
                        ),
                        f"Bar chart of needs and assets in each {word}; the table gives the same figures.",
                        f"Counts below {self.k} are not drawn.",
                    )
                )
        return "\n".join(lines), charts

    def indicators(self) -> tuple[str, list[dict]]:
        rows = self.shared.get("indicators", [])
        if not rows:
            return (
                "No official indicator datasets have been imported for these areas yet. An administrator can import "
                "them (`commintel indicators import`).",
                [],
            )
        where = ", ".join(self.shared.get("where") or []) or self.shared.get("partnership", "")
        lines = [
            f"Official statistics for {where}: the latest value of each measure, its trend where more than one "
            "period has been published, and who published it.",
            "",
            "| Measure | Latest | Period | Trend | Source |",
            "|---|---|---|---|---|",
        ]
        lines += [f"| {r['indicator']} | {r['value']} | {r['period']} | {r['trend']} | {r['source']} |" for r in rows]
        charts = []
        shares = [w for w in self.shared.get("wards", []) if w.get("share") is not None]
        if shares and not self.tokens:
            bars = sorted(({"label": w["name"], "value": round(w["share"] * 100, 1)} for w in shares),
                          key=lambda r: -r["value"])[:20]  # fmt: skip
            charts.append(
                chart(
                    bar_chart(
                        bars,
                        "Most deprived 20% nationally, by ward",
                        "% of the ward's LSOAs",
                        "Share of each ward's LSOAs in the most deprived fifth (IMD)",
                    ),
                    "Bar chart of the share of each ward's small areas in the most deprived fifth of England.",
                    "English Indices of Deprivation; wards with the highest shares first (top 20).",
                )
            )
        return "\n".join(lines), charts

    def _wards(self) -> list[tuple[dict, Released]]:
        return [(w, self.rel(f"ward.{w['id']}")) for w in self.shared.get("wards", [])]

    def map(self) -> tuple[str, list[dict]]:
        lines = [
            f"Where this period's observations were placed: {self.n('placed')} of {self.n('total.now')} name a ward "
            "or a smaller area; the rest concern the partnership's whole area.",
            "",
        ]
        wards = self._wards()
        top = sorted(((w, c) for w, c in wards if c.perturbed), key=lambda t: -t[1].shown_value)
        if top:
            lines.append("Most observations: " + "; ".join(f"{w['name']} ({self.nward(w)})" for w, _ in top[:6]) + ".")
        charts = []
        if not self.tokens:
            features = []
            areas = {a.id: a for a in db.session.scalars(select(Area).where(Area.id.in_([w["id"] for w, _ in wards])))}
            for w, c in wards:
                area = areas.get(w["id"])
                if area is None or not area.boundary:
                    continue
                geometry = json.loads(area.boundary)
                if geometry.get("type") == "Feature":
                    geometry = geometry.get("geometry")
                features.append(
                    {
                        "type": "Feature",
                        "geometry": geometry,
                        "properties": {"name": w["name"], "value": c.value, "display": str(c)},
                    }
                )
            if features:
                charts.append(
                    chart(
                        map_chart(features, "Observations by ward", "Map of wards shaded by number of observations"),
                        "Map of the partnership's wards, shaded by the number of observations this period; grey "
                        "wards had none, fewer than the threshold, or are not shown.",
                        f"Ward boundaries: ONS, Open Government Licence. Grey: none, or fewer than {self.k}.",
                    )
                )
        return "\n".join(lines), charts

    def quote_list(self) -> list[dict]:
        """The edition's quotes, attributed now (never narrower than k organisations)."""
        out = []
        members = Counter(o.kind for o in self.partnership.members) if self.partnership is not None else Counter()
        for q in self.facts.get("quotes", []):
            if q.get("resident"):
                who = "a resident"
            else:
                kind = OrgKind(q["org_kind"]) if q.get("org_kind") else None
                who = f"a {kind.label.lower()}" if kind and members[kind] >= self.k else "a partner organisation"
            out.append({**q, "attribution": who})
        return out

    def quotes(self) -> tuple[str, list[dict]]:
        return quotes_markdown(self.quote_list(), self.audience), []

    def gaps(self) -> tuple[str, list[dict]]:
        wards = self._wards()
        from indicators.gaps import DEPRIVED_SHARE, is_quiet, rule

        if self.shared.get("deprived"):
            gaps = sorted(
                ((w, c) for w, c in wards if (w.get("share") or 0.0) >= DEPRIVED_SHARE and is_quiet(c)),
                key=lambda t: -(t[0].get("share") or 0.0),
            )
            lines = [
                f"Wards in need of more evidence, by the rule the area pages use too: {rule(self.k)}",
                "",
            ]
            if gaps:
                lines += ["| Ward | Most deprived 20% | Observations |", "|---|---:|---:|"]
                lines += [f"| {_cell(w['name'])} | {w['share']:.0%} | {self.nward(w)} |" for w, _ in gaps]
            else:
                lines.append("No deprived ward is short of observations this period.")
        else:
            quiet = [w["name"] for w, c in wards if not c.perturbed]
            lines = [
                f"No deprivation data has been imported, so gaps are shown as wards with fewer than {self.k} "
                "observations this period.",
                "",
                ", ".join(quiet) + "." if quiet else "Every ward has observations.",
            ]
        return "\n".join(lines), []

    def actions(self) -> tuple[str, list[dict]]:
        actions = self.shared.get("actions", [])
        if not actions:
            return "There are no actions from earlier sessions.", []
        lines = [
            "Actions agreed at earlier sessions, with where they stand.",
            "",
            "| Action | Owner | Due | Status | Themes and areas |",
            "|---|---|---|---|---|",
        ]
        for a in actions:
            lines.append(
                f"| {_cell(a['description'])} | {_cell(a['owner'])} | {a['due']} | {a['status']} | "
                f"{_cell(a['about']) or '—'} |"
            )
        return "\n".join(lines), []

    def questions(self) -> tuple[str, list[dict]]:
        rows = [r for r in self.changes() if r["name"] != UNTHEMED]
        qs = []
        for r in [r for r in rows if r["direction"] == "rising"][:2]:
            qs.append(
                f"What is behind the rise in observations about {r['name'].lower()}, and who is already responding?"
            )
        for r in [r for r in rows if r["direction"] == "falling"][:1]:
            qs.append(f"Has need around {r['name'].lower()} really eased, or are fewer groups recording it?")
        for w in self.facts.get("warnings", [])[:MAX_WARNING_QUESTIONS]:
            marker = " (a machine-made theme name)" if w.get("machine_label") else ""
            qs.append(
                f"Early warning: reports about {w['theme'].lower()}{marker} are rising in {w['area']} while the "
                f"official figures there have not got worse ({w['indicators']}). What are partners seeing, and "
                "should we act before the statistics catch up?"
            )
        if self.shared.get("deprived"):
            qs.append("Which members could help us hear from the deprived wards where few observations are recorded?")
        if any(a.get("open") for a in self.shared.get("actions", [])):
            qs.append("What is holding up the actions still open, and should any be dropped?")
        qs.append("What should the partnership do differently before the next session?")
        return "\n".join(f"{i}. {q}" for i, q in enumerate(qs, 1)), []

    def provenance(self) -> tuple[str, list[dict]]:
        lines = ["Where every figure in this briefing comes from.", "", "### Official statistics", ""]
        sources = self.shared.get("sources", [])
        if sources:
            lines += ["| Dataset | Publisher | Licence | Released |", "|---|---|---|---|"]
            lines += [
                f"| {_cell(s['title'])} | {_cell(s['publisher'])} | {_cell(s['licence'])} | {s['release']} |"
                for s in sources
            ]
        else:
            lines.append("No official statistics were used.")
        shared_with = (
            "shared with funders by organisations that accepted the current data-sharing agreement"
            if self.audience is Audience.FUNDERS
            else "shared with the partnership by organisations that accepted the current data-sharing agreement, "
            "and residents' observations approved by a moderator"
        )
        lines += [
            "",
            "### Observations",
            "",
            f"{self.n('total.now')} observations from {self.shared.get('period', '')} (previous period: "
            f"{self.n('total.before')}), {shared_with}. Only observations with personal details removed are used.",
            "",
        ]
        kinds = self.facts.get("kinds", {})
        if kinds and self.rel("total.now").perturbed:
            lines += ["| Contributed by | Organisations | Observations |", "|---|---:|---:|"]
            for key, row in kinds.items():
                n = row["organisations"]
                orgs = "—" if row["resident"] else (f"{n}" if n >= self.k else f"fewer than {self.k}")
                lines.append(f"| {row['label']} | {orgs} | {self.n('kind.' + key)} |")
            lines += ["", f"A kind of organisation has its own row only where the partnership has at least {self.k} "
                      "members of that kind."]  # fmt: skip
        lines += ["", "### Themes", ""]
        if self.shared.get("theme_model"):
            lines.append(
                f"Observations are grouped by the themes of the partnership's theme model, "
                f"{self.shared['theme_model']}. Theme names may be machine-made unless a convenor renamed them."
            )
        else:
            lines.append(
                "No theme model has been run for this partnership yet: observations are grouped by the category "
                "their organisation chose."
            )
        method = released_with()
        lines += [
            "",
            "### How the figures are protected",
            "",
            method_note(),
            f"Released with threshold k={method['k']}, maximum change D={method['D']} and perturbation table "
            f"{method['ptable']}.",
        ]
        if self.audience is Audience.FUNDERS:
            lines += ["", FUNDERS_NOTE]
        return "\n".join(lines), []


def quotes_markdown(quotes: list[dict], audience: Audience = Audience.PARTNERSHIP) -> str:
    if not quotes:
        if audience is Audience.FUNDERS:
            return (
                "No quotes in this edition: no observation in focus was shared with funders with consent to quote it "
                "to them."
            )
        return "No quotes this period: no observation in focus was shared with consent to quote."
    readers = "the partnership's funders" if audience is Audience.FUNDERS else "the partnership"
    lines = [
        f"Observations whose people agreed to be quoted to {readers}, with personal details removed, attributed "
        "only to a kind of organisation where the partnership has several of that kind.",
        "",
    ]
    group = None
    for q in quotes:
        if q["group"] != group:
            group = q["group"]
            lines += [f"### {_md_escape(group)}", ""]
        lines += [f"> {_md_escape(q['text'])}", ">", f"> — {q['attribution']}", ""]
    return "\n".join(lines)


def quoted_ids(facts: dict) -> list[int]:
    """Every observation quoted in any edition of these facts."""
    return sorted(
        {int(q["observation_id"]) for a in EDITIONS for q in (facts or {}).get(a.value, {}).get("quotes", [])}
    )


def without_observation(facts: dict, observation_id: int, record_key: int | None) -> tuple[dict, bool]:
    """The facts recounted without an erased observation (its quotes gone, every cell that counted it one fewer);
    and whether they held it at all."""
    changed = False
    out = {**facts}
    for audience in EDITIONS:
        edition = facts.get(audience.value)
        if not edition:
            continue
        cells = {}
        for key, cell in edition.get("cells", {}).items():
            if observation_id in cell.get("ids", []):
                changed = True
                if record_key is None:
                    raise ValueError("the erased observation's record key is needed to recount")
                cell = {**cell, "n": cell["n"] - 1, "ks": cell["ks"] - record_key,
                        "ids": [i for i in cell["ids"] if i != observation_id]}  # fmt: skip
            cells[key] = cell
        quotes = [q for q in edition.get("quotes", []) if int(q["observation_id"]) != observation_id]
        changed = changed or len(quotes) != len(edition.get("quotes", []))
        out[audience.value] = {**edition, "cells": cells, "quotes": quotes}
    return out, changed


def contributions(facts: dict) -> dict[int, Tally]:
    """``{organisation id: tally}`` of the partnership edition's observations this period, per organisation."""
    edition = (facts or {}).get(Audience.PARTNERSHIP.value, {})
    cells = edition.get("cells", {})
    return {int(org): Tally.from_json(cells.get(key)) for org, key in edition.get("contributors", {}).items()}


@dataclass(frozen=True)
class ActionLinks:
    """What an action is about, by name: its themes' labels, its areas' names, its observations' ids."""

    themes: list[str]
    areas: list[str]
    observations: list[int]


def theme_labels(theme_ids: set[int]) -> dict[int, str]:
    """Current labels of themes (following merges)."""
    if not theme_ids:
        return {}
    from nlp.themes.models import Theme

    return {t.id: t.canonical().label for t in db.session.scalars(select(Theme).where(Theme.id.in_(theme_ids)))}


def action_links(actions: list[Action]) -> dict[int, ActionLinks]:
    """``{action id: ActionLinks}`` for actions, with two queries whatever their number."""
    themes = theme_labels({i for a in actions for i in a.theme_ids or []})
    area_ids = {i for a in actions for i in a.area_ids or []}
    areas = {a.id: a.name for a in db.session.scalars(select(Area).where(Area.id.in_(area_ids)))} if area_ids else {}
    return {
        a.id: ActionLinks(
            themes=sorted({themes[i] for i in a.theme_ids or [] if i in themes}),
            areas=sorted({areas[i] for i in a.area_ids or [] if i in areas}),
            observations=sorted(a.observation_ids or []),
        )
        for a in actions
    }


def _trim(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_QUOTE_CHARS else text[: MAX_QUOTE_CHARS - 1].rsplit(" ", 1)[0] + "…"


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "/")


def _md_escape(text: str) -> str:
    """Quoted text must stay text: Markdown punctuation is escaped (HTML is removed later by sanitising anyway)."""
    out = []
    for ch in text:
        out.append("\\" + ch if ch in "\\`*_{}[]()#+-.!|<>" else ch)
    return "".join(out)
