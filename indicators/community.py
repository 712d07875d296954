"""What the area pages show of observations: counts by category and kind, themes, a theme's map and its spread over
deprivation, and the flags that read them beside the indicators.

Every count here is a :class:`webapp.disclosure.Tally` counted in SQL and shown only as released by
:func:`webapp.disclosure.release`, for the reader's audience of each partnership (:func:`audience_for`): the counts
of a partnership come only from observations whose sharing level includes that audience. Each released cell names
the larger released cells that contain it (``within``): the totals of its own table, the same figure for the areas
above it, the theme's partnership-wide figures. A total of fewer than k is therefore never broken down, on its own
page or another one.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import case, func, literal, select

from submissions import queries
from submissions.models import Category, Observation
from webapp.disclosure import Audience, Released, State, Tally, audience_for, release, threshold
from webapp.extensions import db
from webapp.hierarchy import ancestors, area_ids_within_many, request_cache
from webapp.models import Area, Partnership, partnership_areas

NEED, ASSET = "need", "asset"
KINDS = (NEED, ASSET)


def reader_audience(user, partnership: Partnership) -> Audience:
    """The audience the area pages count for (signed-in readers only reach them; anyone else is the public)."""
    return audience_for(user, partnership) or Audience.PUBLIC


def since_for(months: str | None) -> tuple[date | None, str]:
    choices = {"3": 91, "6": 182, "12": 365, "24": 730}
    if months == "all":
        return None, "all"
    m = months if months in choices else "12"
    return date.today() - timedelta(days=choices[m]), m


def partnerships_covering(area: Area) -> list[Partnership]:
    """Partnerships whose areas include ``area`` or an area above it (asked once per request)."""
    cache = request_cache("partnerships_covering")
    if area.id not in cache:
        above = [area.id, *(a.id for a in ancestors(area))]
        # One query on the association table: reading every partnership's areas took one query per partnership
        # (200 of them in benchmarks/scale.py), whatever the area.
        covering = select(partnership_areas.c.partnership_id).where(partnership_areas.c.area_id.in_(above))
        cache[area.id] = list(
            db.session.scalars(select(Partnership).where(Partnership.id.in_(covering)).order_by(Partnership.name))
        )
    return cache[area.id]


# Community counts by category and kind -------------------------------------------------------------------------------


def category_tallies(
    partnership: Partnership, audience: Audience, area: Area, since: date | None
) -> dict[tuple[str, str], Tally]:
    """``{(category name, kind): tally}`` of what ``audience`` counts in ``area`` and the areas inside it.

    The area and every area above it are counted together, in one query (:func:`chain_tallies`): a page releases
    each of its cells within the same figures for the areas above, so it needs all of them anyway."""
    return _area_counts(partnership, audience, area, since)[0]


def contributing_organisations(partnership: Partnership, audience: Audience, area: Area, since: date | None) -> set:
    """The ids of the organisations whose observations ``audience`` counts in ``area`` (counted with its tallies)."""
    return _area_counts(partnership, audience, area, since)[1]


def _area_counts(
    partnership: Partnership, audience: Audience, area: Area, since: date | None
) -> tuple[dict[tuple[str, str], Tally], set[int]]:
    """The area's tallies and contributing organisations, counted with the areas above it in one query and kept for
    the request (outside one, e.g. in a job or the CLI, counted on each call)."""
    cache = request_cache("area_counts")
    key = (partnership.id, audience, area.id, since)
    if key not in cache:
        chain = [area, *ancestors(area)]
        tallies, organisations = _chain_counts(partnership, audience, chain, since)
        for a, t, o in zip(chain, tallies, organisations, strict=True):
            cache.setdefault((partnership.id, audience, a.id, since), (t, o))
    return cache[key]


def chain_tallies(
    partnership: Partnership, audience: Audience, areas: list[Area], since: date | None
) -> list[dict[tuple[str, str], Tally]]:
    """For each of ``areas``, ``{(category name, kind): tally}`` of what ``audience`` counts in it and the areas
    inside it, in one grouped query (before, one query per area read the same observations again and again)."""
    return _chain_counts(partnership, audience, areas, since)[0]


def _chain_counts(
    partnership: Partnership, audience: Audience, areas: list[Area], since: date | None
) -> tuple[list[dict[tuple[str, str], Tally]], list[set[int]]]:
    """For each of ``areas``, its tallies by (category name, kind) and the ids of the organisations counted in it.

    Each observation's area is given a band: which of ``areas`` contain it (an LSOA's observations are in the LSOA,
    its ward and its authority; a ward's other LSOAs' only in the ward and the authority...). The query counts
    (count, key sum) per band, category, kind and organisation; an area's tally is the sum over the bands that it
    contains. Tallies are exact sums, so every cell is the same tally, and is released as the same value, as when it
    was counted on its own. Grouped by category id with no join, PostgreSQL answers from the covering index
    ``ix_observations_tallies`` alone (an index-only scan)."""

    within = [set(ids) for ids in area_ids_within_many(areas)]
    signature: dict[int, tuple[int, ...]] = {}
    for i, ids in enumerate(within):
        for area_id in ids:
            signature[area_id] = (*signature.get(area_id, ()), i)
    bands: dict[tuple[int, ...], list[int]] = defaultdict(list)
    for area_id, members in signature.items():
        bands[members].append(area_id)
    # The largest band is the ELSE (the WHERE clause keeps only these areas): each row tests only the small lists.
    band_members = sorted(bands, key=lambda m: len(bands[m]))
    whens = [(Observation.area_id.in_(sorted(bands[m])), b) for b, m in enumerate(band_members[:-1])]
    last = literal(len(band_members) - 1)
    band = (case(*whens, else_=last) if whens else last).label("band")
    base = queries.partnership_observations(partnership, audience).where(Observation.area_id.in_(sorted(signature)))
    if since is not None:
        base = base.where(Observation.period_start >= since)
    placed = (
        base.order_by(None)
        .with_only_columns(
            band, Observation.category_id, Observation.kind, Observation.organisation_id, Observation.record_key
        )
        .subquery()
    )
    # count(*) and sum(record_key): a Tally (webapp.disclosure.Tally.row), as submissions.queries.tally_columns.
    groups = (placed.c.band, placed.c.category_id, placed.c.kind, placed.c.organisation_id)
    stmt = select(*groups, func.count(), func.sum(placed.c.record_key)).group_by(*groups)
    names = dict(db.session.execute(select(Category.id, Category.name)).tuples().all())
    out: list[dict[tuple[str, str], list[int]]] = [defaultdict(lambda: [0, 0]) for _ in areas]
    organisations: list[set[int]] = [set() for _ in areas]
    for b, category_id, kind, organisation_id, n, ks in db.session.execute(stmt):
        cell = (names[category_id], str(kind.value if hasattr(kind, "value") else kind))
        for i in band_members[b]:
            total = out[i][cell]  # two categories of one name are one row, as they always were
            total[0] += int(n or 0)
            total[1] += int(ks or 0)
            if organisation_id is not None:  # residents' observations have none
                organisations[i].add(organisation_id)
    return [{cell: Tally(n, ks) for cell, (n, ks) in cells.items()} for cells in out], organisations


def _row(tallies: dict[tuple[str, str], Tally], category: str) -> Tally:
    return tallies.get((category, NEED), Tally()) + tallies.get((category, ASSET), Tally())


def grand_total(tallies: dict[tuple[str, str], Tally]) -> Tally:
    return Tally.total(tallies.values())


@dataclass
class CommunityRow:
    category: str
    need: Released
    asset: Released
    total: Released


@dataclass
class CommunitySection:
    """One partnership's observations in an area, as the reader's audience may see them."""

    partnership: Partnership
    audience: Audience
    since: date | None
    total: Released
    rows: list[CommunityRow] = field(default_factory=list)
    organisations: str = ""

    @property
    def broken_down(self) -> bool:
        """The total is shown by category (not when it is fewer than k: a small total is not broken down)."""
        return self.total.state is State.SHOWN

    @property
    def k(self) -> int:
        return self.total.k


def area_totals(partnership: Partnership, audience: Audience, areas: list[Area], since: date | None) -> list[Released]:
    """The total of each of ``areas`` as its own page releases it (within the totals of the areas above it), all
    counted in one grouped query (exact sums: the same tallies, so the same released values, as each page's)."""
    chains = [ancestors(a) for a in areas]
    everyone = list({a.id: a for a in [*areas, *(x for chain in chains for x in chain)]}.values())
    tallies = chain_tallies(partnership, audience, everyone, since)
    grand = {a.id: grand_total(t) for a, t in zip(everyone, tallies, strict=True)}
    return [release(grand[a.id], [grand[x.id] for x in chain]) for a, chain in zip(areas, chains, strict=True)]


def community(area: Area, user, since: date | None) -> list[CommunitySection]:
    """Each covering partnership's observations in ``area`` by category and kind, released for the reader."""

    categories = list(db.session.scalars(select(Category.name).where(Category.active).order_by(Category.position)))
    sections = []
    for partnership in partnerships_covering(area):
        audience = reader_audience(user, partnership)
        here = category_tallies(partnership, audience, area, since)
        above = [category_tallies(partnership, audience, a, since) for a in ancestors(area)]
        grand = grand_total(here)
        total = release(grand, [grand_total(t) for t in above])
        rows = []
        names = categories + sorted({c for c, _ in here} - set(categories))
        for name in names:
            row_tally = _row(here, name)
            row_within = [grand, *(_row(t, name) for t in above), *(grand_total(t) for t in above)]
            row_total = release(row_tally, row_within)
            if row_total.state not in (State.HIDDEN, State.SHOWN):
                continue  # none, or not shown: both left out, so that a missing row says nothing either way
            cells = {}
            for kind in KINDS:
                cell = here.get((name, kind), Tally())
                cells[kind] = release(cell, [row_tally, *row_within, *(t.get((name, kind), Tally()) for t in above)])
            rows.append(CommunityRow(name, cells[NEED], cells[ASSET], row_total))
        sections.append(
            CommunitySection(
                partnership, audience, since, total, rows, _organisations(partnership, audience, area, since)
            )
        )
    return sections


def _organisations(partnership: Partnership, audience: Audience, area: Area, since: date | None) -> str:
    """How many organisations contributed, only as "k or more" / "fewer than k" (the members are known by name)."""
    n, k = len(contributing_organisations(partnership, audience, area, since)), threshold()
    if n == 0:
        return "no organisations"
    return f"{k} or more organisations" if n >= k else f"fewer than {k} organisations"


def chart_rows(rows: list[tuple[str, Released]]) -> list[dict[str, Any]]:
    """Bar-chart rows: only counts released as a number are drawn (the table beside lists every one)."""
    return [{"label": label, "value": r.value, "display": str(r)} for label, r in rows]
