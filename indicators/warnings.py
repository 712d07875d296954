"""Early warning: a need theme rising in an area whose official indicators have not moved yet.

Community groups hear a need grow months before the statistics show it. The rule, in one place for the area page's
flag, the convenor's home page and the briefing's discussion questions:

- a *need* theme of the partnership is **rising in the area** (the observations placed in the area or in the areas
  inside it): the last 3 complete months against the 3 before, exact two-sided binomial test (p < 0.05, at least
  10 observations), on the two counts *as released* (:func:`nlp.themes.queries.trend`, the same test as the theme
  pages);
- and every official indicator of the area with a good direction and at least two periods changed by less than 5 %
  or for the better between its last two releases (none got worse); an area with no such indicator gets no warning,
  since there is nothing to say the statistics are quiet.

The counts a warning shows are the released ones (``recent``/``before``), so a warning says nothing a released count
does not. The statistics may lag or the theme may reflect who is recording: a warning is a prompt to look.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from indicators.figures import Figure, area_figures
from indicators.maps import map_areas
from indicators.models import Indicator, IndicatorValue, Polarity
from nlp.themes import queries as theme_queries
from webapp.disclosure import Tally
from webapp.extensions import db
from webapp.hierarchy import parents_of
from webapp.models import Area, AreaLevel, Partnership

MOVED = 0.05  # a relative change of more than this between two releases, in the bad direction, is "got worse"
RULE = (
    "a need theme whose observations in the area over the last 3 complete months differ from the 3 before (exact "
    "binomial test, p < 0.05, at least 10 observations, on the protected counts), where every official indicator "
    "with a good direction and at least two periods changed by less than 5% or for the better"
)


@dataclass(frozen=True)
class Judged:
    """One official indicator's last move in an area."""

    name: str
    previous_period: str
    last_period: str
    worse: bool


@dataclass(frozen=True)
class EarlyWarning:
    partnership_id: int
    theme_id: int
    theme: str
    machine_label: bool
    area_code: str
    area_name: str
    recent: int  # released count in the last 3 complete months
    before: int  # released count in the 3 before
    p_value: float
    indicators: tuple[Judged, ...]

    @property
    def indicators_text(self) -> str:
        return "; ".join(f"{j.name} ({j.previous_period} to {j.last_period})" for j in self.indicators)

    def as_fact(self) -> dict:
        """What a briefing stores (plain values: the facts outlive the theme's later renames)."""
        return {
            "theme": self.theme,
            "machine_label": self.machine_label,
            "area": self.area_name,
            "area_code": self.area_code,
            "recent": self.recent,
            "before": self.before,
            "indicators": self.indicators_text,
        }


def judged_indicators(figures: list[Figure]) -> list[Judged]:
    """Each indicator with a good direction and at least two periods, and whether its last move was for the worse."""
    judged = []
    for f in figures:
        points = [p for p in f.series if p["value"] is not None]
        if f.indicator.polarity is Polarity.NEUTRAL or len(points) < 2:
            continue
        last, previous = points[-1]["value"], points[-2]["value"]
        change = 0.0 if previous == 0 else (last - previous) / abs(previous)
        worse = change > MOVED if f.indicator.polarity is Polarity.HIGHER_IS_WORSE else change < -MOVED
        judged.append(Judged(f.indicator.name, str(points[-2]["period"]), str(points[-1]["period"]), worse))
    return judged


def statistics_quiet(figures: list[Figure]) -> list[Judged] | None:
    """The indicators that say the statistics are quiet here, or None when none can say it or one got worse."""
    judged = judged_indicators(figures)
    if not judged or any(j.worse for j in judged):
        return None
    return judged


def can_warn(partnership: Partnership) -> bool:
    """Whether any of the partnership's current wards, or the LSOAs inside them, has an official indicator with a good
    direction and values for at least two periods. Without one no ward's statistics can be called quiet, so no
    warning can ever be raised there (the demo's ward figures are IoD2025, one release, and FixMyStreet reports, no
    direction): the home page says so rather than staying silent. A series for another partnership's wards does not
    count. Three queries (its wards, their LSOAs, the grouped values), read only when no warning was found."""
    area_ids = [a.id for level in (AreaLevel.WARD, AreaLevel.LSOA) for a in map_areas(partnership, level)]
    if not area_ids:
        return False
    stmt = (
        select(IndicatorValue.indicator_id)
        .join(Indicator, Indicator.id == IndicatorValue.indicator_id)
        .where(
            Indicator.polarity != Polarity.NEUTRAL,
            IndicatorValue.area_id.in_(area_ids),
            IndicatorValue.value.is_not(None),
        )
        .group_by(IndicatorValue.indicator_id)
        .having(func.count(func.distinct(IndicatorValue.period_key)) >= 2)
        .limit(1)
    )
    return db.session.scalar(stmt) is not None


def area_trends(
    partnership: Partnership, until: date | None = None, kind: str = "need", only: set[int] | None = None
) -> dict[tuple[int, int], theme_queries.Trend]:
    """``{(theme id, area id): Trend}`` of every visible theme in every area its observations are placed in or
    under (an LSOA's observations count for its ward and every area above), over the 6 complete months before
    ``until`` (default today). One query for the partnership; ``only``: the areas wanted (the test is run for
    those alone: an area page needs one area, not the partnership's hundreds)."""
    until = until or date.today()
    end = theme_queries.month_start(until)
    start = theme_queries.add_months(end, -2 * theme_queries.TREND_MONTHS)
    placed = theme_queries.placed_areas(partnership, kind, start, end)
    parents = parents_of(placed)
    under = None
    if only is not None:
        # An area's roll-up counts the places at or under it: those alone are counted and rolled up (a ward page
        # rolled up every place of the partnership, month by month and theme by theme, to read one area's).
        under = {a for a in placed if theme_queries.reaches(a, only, parents)}
    exact = theme_queries.monthly_area_counts(partnership, kind, start, end, areas=under)
    months_by_area: dict[tuple[int, int], dict[date, Tally]] = defaultdict(dict)
    for theme_id, by_month in exact.items():
        for month, by_area in by_month.items():
            for area_id, tally in theme_queries.rolled_up(by_area, parents).items():
                months_by_area[(theme_id, area_id)][month] = tally
    return {
        key: theme_queries.trend(months, until)
        for key, months in months_by_area.items()
        if only is None or key[1] in only
    }


def _warning(partnership: Partnership, theme, area: Area, trend, quiet: list[Judged]) -> EarlyWarning:
    return EarlyWarning(
        partnership.id,
        theme.id,
        theme.label,
        theme.is_machine_label,
        area.code,
        area.name,
        trend.recent,
        trend.before,
        trend.p_value if trend.p_value is not None else 1.0,
        tuple(quiet),
    )


def early_warnings(
    partnership: Partnership,
    areas: list[Area] | None = None,
    until: date | None = None,
    trends: dict[tuple[int, int], theme_queries.Trend] | None = None,
    figures: dict[int, list[Figure]] | None = None,
) -> list[EarlyWarning]:
    """The partnership's warnings in ``areas`` (default: its wards), strongest first (smallest p, then most recent
    observations). The indicators are read only for areas where a theme is rising (``figures``: those already read,
    by area id)."""
    if areas is None:
        areas = map_areas(partnership, AreaLevel.WARD)
    themes = {t.id: t for t in theme_queries.visible_themes(partnership)}
    if not themes or not areas:
        return []
    trends = trends if trends is not None else area_trends(partnership, until, only={a.id for a in areas})
    by_id = {a.id: a for a in areas}
    rising: dict[int, list[tuple]] = defaultdict(list)
    for (theme_id, area_id), t in trends.items():
        if t.direction == "rising" and area_id in by_id and theme_id in themes:
            rising[area_id].append((themes[theme_id], t))
    out = []
    for area_id, found in rising.items():
        area = by_id[area_id]
        quiet = statistics_quiet(figures[area_id] if figures and area_id in figures else area_figures(area))
        if quiet is None:
            continue
        out += [_warning(partnership, theme, area, t, quiet) for theme, t in found]
    return sorted(out, key=lambda w: (w.p_value, -w.recent, w.area_name, w.theme))
