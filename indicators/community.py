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

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import case, func, literal, select

from indicators import aggregation
from indicators.models import Indicator
from indicators.profiles import (
    Figure,
    MapLayer,
    _request_cache,
    _values_frame,
    all_indicators,
    area_ids_within,
    area_ids_within_many,
    deprivation_index,
    lsoa_ids_within,
)
from webapp.disclosure import Audience, Released, State, Tally, audience_for, release, release_groups, threshold
from webapp.extensions import db
from webapp.models import Area, AreaLevel, Partnership, partnership_areas

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


def ancestors(area: Area) -> list[Area]:
    """The areas above ``area``, nearest first (its ward, its local authority...)."""
    out, current = [], area.parent
    while current is not None and len(out) < 6:
        out.append(current)
        current = current.parent
    return out


def partnerships_covering(area: Area) -> list[Partnership]:
    """Partnerships whose areas include ``area`` or an area above it (asked once per request)."""
    cache = _request_cache("_partnerships_covering")
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
    cache = _request_cache("_area_counts")
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
    from submissions import queries
    from submissions.models import Category, Observation

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
    names = dict(db.session.execute(select(Category.id, Category.name)).all())
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


def _grand(tallies: dict[tuple[str, str], Tally]) -> Tally:
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
    grand = {a.id: _grand(t) for a, t in zip(everyone, tallies, strict=True)}
    return [release(grand[a.id], [grand[x.id] for x in chain]) for a, chain in zip(areas, chains, strict=True)]


def community(area: Area, user, since: date | None) -> list[CommunitySection]:
    """Each covering partnership's observations in ``area`` by category and kind, released for the reader."""
    from submissions.models import Category

    categories = list(db.session.scalars(select(Category.name).where(Category.active).order_by(Category.position)))
    sections = []
    for partnership in partnerships_covering(area):
        audience = reader_audience(user, partnership)
        here = category_tallies(partnership, audience, area, since)
        above = [category_tallies(partnership, audience, a, since) for a in ancestors(area)]
        grand = _grand(here)
        total = release(grand, [_grand(t) for t in above])
        rows = []
        names = categories + sorted({c for c, _ in here} - set(categories))
        for name in names:
            row_tally = _row(here, name)
            row_within = [grand, *(_row(t, name) for t in above), *(_grand(t) for t in above)]
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


# Themes of an area ---------------------------------------------------------------------------------------------------


@dataclass
class ThemeRow:
    theme_id: int
    label: str
    machine_label: bool
    count: Released
    trend: str  # "Rising", "Falling", "Steady", "Too few to tell" (across the partnership)
    direction: str


@dataclass
class ThemesSection:
    partnership: Partnership
    needs: list[ThemeRow]
    assets: list[ThemeRow]
    note: str = ""


def theme_map_tallies(partnership: Partnership, theme_id: int) -> dict[int, Tally]:
    """``{area id: tally}`` of a theme over all time and kinds, each area counting the areas inside it (what the
    theme map and the theme page's places show)."""
    from nlp.themes import queries as theme_queries

    cache = _request_cache("_theme_map_tallies")
    if partnership.id not in cache:
        counts = theme_queries.area_counts(partnership)
        placed = {a for by_area in counts.values() for a in by_area if a is not None}
        # The parents of every area any theme is placed in, read once for all the themes (the page rolls up each).
        cache[partnership.id] = counts, theme_queries.parents_of(placed)
    key = (partnership.id, theme_id)
    if key not in cache:
        counts, parents = cache[partnership.id]
        cache[key] = theme_queries.rolled_up(counts.get(theme_id, {}), parents)
    return cache[key]


def _parents(areas: list[Area]) -> dict[int, int | None]:
    """``{area id: parent id}`` of ``areas`` (their objects already say it: no query)."""
    return {a.id: a.parent_id for a in areas}


def theme_totals(partnership: Partnership) -> dict[tuple[int, str | None], Tally]:
    """``{(theme id, kind or None for all kinds): tally}`` over all time and the whole partnership: the theme list's
    and theme page's totals, inside which every smaller theme figure lies."""
    from nlp.themes import queries as theme_queries

    cache = _request_cache("_theme_totals")
    if partnership.id not in cache:
        cache[partnership.id] = theme_queries.theme_counts_by_kind(partnership)
    return cache[partnership.id]


def _theme_tallies_in(
    partnership: Partnership, kind: str, since: date | None, places: list[set[int]]
) -> dict[int, list[Tally]]:
    """``{theme id: [tally in each of places]}`` of ``kind`` since ``since``: for each theme, the sum of
    :func:`nlp.themes.queries.area_counts`' tallies over the areas of each set (the theme's cell in an area and in each
    area above it), in one pass over the counted rows instead of every area's tally added up per set."""
    from nlp.themes import queries as theme_queries

    out: dict[int, list[list[int]]] = {}
    for theme_id, _period, area_id, _kind, key in theme_queries._counted(
        partnership, kind, since, None, Audience.PARTNERSHIP
    ) or ():  # fmt: skip
        cells = out.get(theme_id)
        if cells is None:
            cells = out[theme_id] = [[0, 0] for _ in places]
        for cell, ids in zip(cells, places, strict=True):
            if area_id in ids:
                cell[0] += 1
                cell[1] += key
    return {theme_id: [Tally(n, ks) for n, ks in cells] for theme_id, cells in out.items()}


def _ward_tallies(partnership: Partnership, ward_id: int) -> dict[int, Tally]:
    """``{theme id: tally}`` over all time and kinds of the observations placed in the ward or under it: each theme's
    :func:`theme_map_tallies` at the ward (the same rows, areas and roll-up), without rolling up every area of the
    partnership for every theme to read one."""
    from nlp.themes import queries as theme_queries

    rows = theme_queries._counted(partnership, None, None, None, Audience.PARTNERSHIP) or []
    placed = {row[2] for row in rows if row[2] is not None}
    parents = theme_queries.parents_of(placed)
    under = {a for a in placed if theme_queries.reaches(a, {ward_id}, parents)}
    out: dict[int, list[int]] = {}
    for theme_id, _period, area_id, _kind, key in rows:
        if area_id in under:
            cell = out.get(theme_id)
            if cell is None:
                out[theme_id] = [1, key]
            else:
                cell[0] += 1
                cell[1] += key
    return {theme_id: Tally(n, ks) for theme_id, (n, ks) in out.items()}


def area_themes(area: Area, user, since: date | None) -> ThemesSection | None:
    """Community themes in ``area`` (and the areas inside it) for the period, needs and assets apart.

    For the partnership's own people only (funders and the public see the category counts, which follow each
    observation's sharing level). Rising/falling is the partnership-wide trend of the theme (nlp.themes.queries.trend,
    on released counts). A theme row is listed when its count is shown or fewer than k; none and "not shown" are both
    left out. Returns None when there are no themes to show.
    """
    from nlp.themes import queries as theme_queries

    here_ids = set(area_ids_within(area))
    above = [(a, set(area_ids_within(a))) for a in ancestors(area)]
    for partnership in partnerships_covering(area):
        if reader_audience(user, partnership) is not Audience.PARTNERSHIP:
            continue
        themes = {t.id: t for t in theme_queries.visible_themes(partnership)}
        if not themes:
            continue
        grand = _grand(category_tallies(partnership, Audience.PARTNERSHIP, area, since))
        totals = theme_totals(partnership)
        ward = (
            area
            if area.level is AreaLevel.WARD
            else next((a for a in ancestors(area) if a.level is AreaLevel.WARD), None)
        )
        in_ward = _ward_tallies(partnership, ward.id) if ward is not None else {}
        sections = {}
        for kind in KINDS:
            by_theme = _theme_tallies_in(partnership, kind, since, [here_ids, *(ids for _, ids in above)])
            trends = theme_queries.trends(partnership, kind)
            rows = []
            for theme_id, theme in themes.items():
                cell, *around = by_theme.get(theme_id) or [Tally()] * (1 + len(above))
                within = [grand, totals.get((theme_id, kind), Tally()), totals.get((theme_id, None), Tally())]
                within += around
                if ward is not None:
                    within.append(in_ward.get(theme_id, Tally()))
                count = release(cell, within)
                if count.state not in (State.HIDDEN, State.SHOWN):
                    continue
                t = trends.get(theme_id)
                rows.append(
                    ThemeRow(
                        theme_id,
                        theme.label,
                        theme.is_machine_label,
                        count,
                        t.label if t else "Too few to tell",
                        t.direction if t else "too few",
                    )
                )
            rows.sort(key=lambda r: (-r.count.shown_value, r.label))
            sections[kind] = rows
        return ThemesSection(partnership, sections[NEED], sections[ASSET])
    return None


# The theme map -------------------------------------------------------------------------------------------------------


def map_themes(user, partnership: Partnership | None) -> list:
    """The partnership's visible themes, for the partnership's own people (others: none)."""
    if partnership is None or reader_audience(user, partnership) is not Audience.PARTNERSHIP:
        return []
    from nlp.themes import queries as theme_queries

    return theme_queries.visible_themes(partnership)


def theme_map_layer(areas: list[Area], level: AreaLevel, partnership: Partnership, theme) -> MapLayer:
    """A theme's intensity: its observations per area over all time (each area counting the areas inside it),
    released for the partnership; areas not shown as a number are drawn grey and listed in the table."""
    tallies = theme_map_tallies(partnership, theme.id)
    total = theme_totals(partnership).get((theme.id, None), Tally())
    parents = _parents(areas)
    rows = []
    for a in areas:
        within = [total]
        if level is AreaLevel.LSOA and parents.get(a.id) is not None:
            within.append(tallies.get(parents[a.id], Tally()))
        count = release(tallies.get(a.id, Tally()), within)
        rows.append(
            {
                "code": a.code,
                "name": a.name,
                "geometry": json.loads(a.boundary) if a.boundary else None,
                "value": count.value,
                "display": str(count),
            }
        )
    k = threshold()
    return MapLayer(
        None,
        f"Theme: {theme.label}",
        "Observations",
        "all time",
        rows,
        "neutral",
        method="observations placed in the area or in the areas inside it, over all time",
        caveat=f"Areas with fewer than {k} observations, or not shown because the theme has fewer than {k} in all "
        "or in the ward, are not coloured. Observations placed only at partnership level are not on the map. Counts "
        "show where members reported, not where need is; each is protected by a small random change.",
    )


# Flags ---------------------------------------------------------------------------------------------------------------


@dataclass
class Flag:
    title: str
    explanation: str


def evidence_gap(area: Area, figures: list[Figure], sections: list[CommunitySection]) -> Flag | None:
    """A deprived area with few or no observations: where the partnership may be hearing too little, by the one
    rule of :mod:`indicators.gaps` (the briefing and the city-wide list use it too). Read from the total the reader
    is shown, so the flag says nothing the page does not."""
    from indicators import gaps

    if not sections:
        return None
    index = deprivation_index([f.indicator for f in figures])
    if index is None:
        return None
    share = gaps.deprived_shares([area], index).get(area.id)
    section = sections[0]
    if not gaps.is_gap(area, share, section.total):
        return None
    k = threshold()
    how = (
        "this LSOA is in the most deprived 20% in England"
        if area.level is AreaLevel.LSOA
        else f"{share:.0%} of its LSOAs are in the most deprived 20% in England"
    )
    shown = f"fewer than {k}" if section.total.withheld else str(section.total)
    period = f"since {section.since:%d %B %Y}" if section.since else "in all time"
    return Flag(
        "Evidence gap",
        f"{how[0].upper()}{how[1:]} ({index.dataset.title}), yet {section.partnership.name} has {shown} "
        f"observations here shared with {section.audience.label} {period}. The rule: {gaps.rule(k)}",
    )


def rising_where_stable(area: Area, figures: list[Figure], themes: ThemesSection | None) -> Flag | None:
    """Needs rising in what the community reports here while the official indicators here are stable or improving:
    the early-warning rule of :mod:`indicators.warnings` (the convenor's home page and the briefing use it too),
    for the partnership's own people (``themes`` is None for everyone else)."""
    from indicators import warnings

    if themes is None:
        return None
    found = warnings.early_warnings(themes.partnership, [area], figures={area.id: figures})
    if not found:
        return None
    names = ", ".join(f"{w.theme} ({w.recent} in the last 3 months, {w.before} in the 3 before)" for w in found[:5])
    return Flag(
        "Rising needs where the statistics look stable",
        f"Reports of {names} are rising in {area.name}, while no official indicator here got worse between its "
        f"last two releases ({found[0].indicators_text}). Computed as: {warnings.RULE}. The statistics may lag: "
        "this is a prompt to look, not a finding.",
    )


# A theme against deprivation -----------------------------------------------------------------------------------------


@dataclass
class DecileRow:
    decile: int
    observations: Released
    share_of_theme: float | None  # of the theme's observations placed in an LSOA (None when not all shown)
    share_of_lsoas: float | None  # of the partnership's LSOAs in this decile


@dataclass
class BandRow:
    label: str
    observations: Released
    share_of_theme: float | None
    share_of_wards: float | None


WARD_BANDS = (
    (0.5, "Half or more of its LSOAs"),
    (0.25, "A quarter to a half"),
    (1e-9, "Under a quarter"),
    (0.0, "None"),
)


@dataclass
class ThemeDeprivation:
    rows: list[DecileRow]
    placed: Released  # observations placed in an LSOA with a decile
    unplaced: Released  # placed at ward or wider level, or in an LSOA without a decile
    indicator: Indicator | None
    ward_rows: list[BandRow] = field(default_factory=list)  # by the ward's share of LSOAs in the most deprived 20%
    ward_placed: Released | None = None


def _band(share: float) -> str:
    return next(label for low, label in WARD_BANDS if share >= low)


def imd_indicator() -> Indicator | None:
    """The overall IMD of the most recent IoD release stored, if any (by its keys, see deprivation_index)."""
    return deprivation_index([i for i in all_indicators() if i.level is AreaLevel.LSOA])


def _shares(released: list[Released]) -> list[float | None]:
    """Each count's share of their sum, from released values, only when every one is shown as a number (a share
    beside a hidden count would give the count away)."""
    if any(r.suppressed for r in released):
        return [None] * len(released)
    total = sum(r.shown_value for r in released)
    return [r.shown_value / total if total else None for r in released]


def theme_by_deprivation(partnership: Partnership, theme_id: int, since: date | None = None) -> ThemeDeprivation:
    """Where a theme is reported, by the IMD decile of the LSOA the observations are placed in, beside how the
    partnership's LSOAs spread over the deciles, released for the partnership. Not a causal claim."""
    from nlp.themes import queries as theme_queries

    imd = imd_indicator()
    by_area = theme_queries.area_counts(partnership, None, since).get(theme_id, {})
    lsoa_ids: set[int] = set()
    for area in partnership.areas:
        lsoa_ids.update(lsoa_ids_within(area, imd.vintage if imd else None))  # the LSOAs the IMD is on
    deciles: dict[int, int] = {}
    if imd is not None:
        wanted = lsoa_ids | {a for a in by_area if a is not None}
        frame = _values_frame(list(wanted), [imd.id])
        for row in frame.itertuples():
            d = (
                row.decile
                if not pd.isna(row.decile)
                else (aggregation.decile_from_rank(row.rank) if not pd.isna(row.rank) else None)
            )
            if d is not None:
                deciles[int(row.area_id)] = int(d)
    per_decile = {d: Tally() for d in range(1, 11)}
    unplaced = Tally()
    for area_id, n in by_area.items():
        d = deciles.get(area_id) if area_id is not None else None
        if d is None:
            unplaced = unplaced + n
        else:
            per_decile[d] = per_decile[d] + n
    placed = Tally.total(per_decile.values())
    theme_total = theme_totals(partnership).get((theme_id, None), Tally())
    everything = placed + unplaced
    lsoas_with = [deciles[a] for a in lsoa_ids if a in deciles]
    released = release_groups(per_decile.values(), [placed, everything, theme_total])
    rows = [
        DecileRow(
            d,
            count,
            share,
            (sum(1 for x in lsoas_with if x == d) / len(lsoas_with)) if lsoas_with else None,
        )
        for (d, _), count, share in zip(per_decile.items(), released, _shares(released), strict=True)
    ]
    # Observations are often placed at ward level: wards by the share of their LSOAs in England's most deprived 20%.
    ward_of = dict(
        db.session.execute(
            select(Area.id, Area.parent_id).where(Area.id.in_(lsoa_ids), Area.level == AreaLevel.LSOA)
        ).all()
    )
    ward_deciles: dict[int, list[int]] = defaultdict(list)
    for lsoa_id, ward_id in ward_of.items():
        if lsoa_id in deciles and ward_id is not None:
            ward_deciles[ward_id].append(deciles[lsoa_id])
    ward_band = {w: _band(sum(1 for d in ds if d <= 2) / len(ds)) for w, ds in ward_deciles.items()}
    band_counts = {label: Tally() for _, label in WARD_BANDS}
    for area_id, n in by_area.items():
        ward_id = area_id if area_id in ward_band else ward_of.get(area_id)
        if ward_id in ward_band:
            band_counts[ward_band[ward_id]] = band_counts[ward_band[ward_id]] + n
    in_wards = Tally.total(band_counts.values())
    band_released = release_groups(band_counts.values(), [in_wards, everything, theme_total])
    ward_rows = [
        BandRow(
            label,
            count,
            share,
            sum(1 for b in ward_band.values() if b == label) / len(ward_band) if ward_band else None,
        )
        for label, count, share in zip(band_counts, band_released, _shares(band_released), strict=True)
    ]
    # Placed and not placed by decile split the theme in two groups; the observations counted by ward are the
    # bands' total (every band 0 or at least k when the bands are shown, so it is too).
    placed_released, unplaced_released = release_groups([placed, unplaced], [everything, theme_total])
    in_wards_released = (
        release(in_wards, [everything, theme_total])
        if any(not r.withheld for r in band_released)
        else Released(State.WITHHELD, None, threshold())
    )
    return ThemeDeprivation(rows, placed_released, unplaced_released, imd, ward_rows, in_wards_released)


def chart_rows(rows: list[tuple[str, Released]]) -> list[dict[str, Any]]:
    """Bar-chart rows: only counts released as a number are drawn (the table beside lists every one)."""
    return [{"label": label, "value": r.value, "display": str(r)} for label, r in rows]
