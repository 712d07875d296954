"""The themes of an area as its page shows them (counts released for the reader, each inside the same figures for
the areas above it and the theme's partnership-wide totals), and the theme map."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from indicators.community import (
    ASSET,
    KINDS,
    NEED,
    category_tallies,
    grand_total,
    partnerships_covering,
    reader_audience,
)
from indicators.maps import MapLayer
from nlp.themes import queries as theme_queries
from webapp.disclosure import Audience, Released, State, Tally, release, threshold
from webapp.hierarchy import ancestors, area_ids_within, parents_of, request_cache
from webapp.models import Area, AreaLevel, Partnership

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

    cache = request_cache("theme_map_tallies")
    if partnership.id not in cache:
        counts = theme_queries.area_counts(partnership)
        placed = {a for by_area in counts.values() for a in by_area if a is not None}
        # The parents of every area any theme is placed in, read once for all the themes (the page rolls up each).
        cache[partnership.id] = counts, parents_of(placed)
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

    cache = request_cache("theme_totals")
    if partnership.id not in cache:
        cache[partnership.id] = theme_queries.theme_counts_by_kind(partnership)
    return cache[partnership.id]


def _theme_tallies_in(
    partnership: Partnership, kind: str, since: date | None, places: list[set[int]]
) -> dict[int, list[Tally]]:
    """``{theme id: [tally in each of places]}`` of ``kind`` since ``since``: for each theme, the sum of
    :func:`nlp.themes.queries.area_counts`' tallies over the areas of each set (the theme's cell in an area and in each
    area above it), in one pass over the counted rows instead of every area's tally added up per set."""

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

    rows = theme_queries._counted(partnership, None, None, None, Audience.PARTNERSHIP) or []
    placed = {row[2] for row in rows if row[2] is not None}
    parents = parents_of(placed)
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

    here_ids = set(area_ids_within(area))
    above = [(a, set(area_ids_within(a))) for a in ancestors(area)]
    for partnership in partnerships_covering(area):
        if reader_audience(user, partnership) is not Audience.PARTNERSHIP:
            continue
        themes = {t.id: t for t in theme_queries.visible_themes(partnership)}
        if not themes:
            continue
        grand = grand_total(category_tallies(partnership, Audience.PARTNERSHIP, area, since))
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
    return theme_queries.visible_themes(partnership)


def theme_map_layer(areas: list[Area], level: AreaLevel, partnership: Partnership, theme) -> MapLayer:
    """A theme's intensity: its observations per area over all time (each area counting the areas inside it),
    released for the partnership; areas not shown as a number are drawn grey and listed in the table."""
    tallies = theme_map_tallies(partnership, theme.id)
    total = theme_totals(partnership).get((theme.id, None), Tally())
    # An area's all-time total of fewer than k (its own page says "fewer than k") is not broken down by theme here.
    area_totals = theme_queries.area_total_tallies(partnership)
    parents = _parents(areas)
    rows = []
    for a in areas:
        within = [total, area_totals.get(a.id, Tally())]
        parent = parents.get(a.id)
        if level is AreaLevel.LSOA and parent is not None:
            within.append(tallies.get(parent, Tally()))
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
