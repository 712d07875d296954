"""The briefing composer: from a session's focus to a draft of machine-written sections.

It reads observations only through :func:`submissions.queries.partnership_observations` (the sharing rules live
there: agreement accepted, partnership-level sharing, live and redacted), indicator values through the indicators
models, and themes through ``nlp.queries`` when the nlp package provides it; until then observations are grouped by
their category, and the provenance appendix says so. Every count it writes goes through
:func:`webapp.suppression.suppress`, and charts draw only counts that may be shown.

The composer writes Markdown (sanitised when rendered) and, beside it, the structured material it drew on
(``data``: chart specifications, the ids of quoted observations), so that a later erasure can find and remove a
quote and every claim stays traceable to the data.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from flask import current_app
from sqlalchemy import select

from convening.models import Action, SectionKind, Session
from submissions.models import Category, Observation, ObservationKind
from submissions.queries import partnership_observations
from webapp.extensions import db
from webapp.models import Area, AreaLevel, OrgKind, Partnership
from webapp.suppression import suppress, threshold

log = logging.getLogger(__name__)

UNTHEMED = "Not yet themed"
DEFAULT_PERIOD_DAYS = 84  # twelve weeks before the meeting
QUOTES_PER_GROUP = 2
MAX_QUOTES = 10
MAX_QUOTE_CHARS = 400


@dataclass
class SectionDraft:
    kind: SectionKind
    title: str
    body: str
    data: dict = field(default_factory=dict)


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


def _n(count: int) -> str:
    return str(suppress(count))


# Focus -----------------------------------------------------------------------------------------------------------


def _descendants(area_ids: set[int]) -> set[int]:
    result = set(area_ids)
    frontier = set(area_ids)
    while frontier:
        children = set(db.session.scalars(select(Area.id).where(Area.parent_id.in_(frontier))))
        frontier = children - result
        result |= children
    return result


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
        area_ids=_descendants({a.id for a in areas}) if areas else set(),
        area_names=[a.name for a in areas],
        category_ids=set(session.focus_category_ids or []),
        theme_ids=set(session.focus_theme_ids or []),
        start=start,
        end=end,
        previous_start=previous_start,
        previous_end=previous_end,
    )


def focus_observations(focus: Focus, start: date, end: date) -> list[Observation]:
    stmt = partnership_observations(focus.partnership).where(
        Observation.period_start >= start, Observation.period_start <= end
    )
    if focus.area_ids:
        stmt = stmt.where(Observation.area_id.in_(focus.area_ids))
    if focus.category_ids:
        stmt = stmt.where(Observation.category_id.in_(focus.category_ids))
    return list(db.session.scalars(stmt))


# Geography helpers -------------------------------------------------------------------------------------------------


class Geography:
    """Every area once, with the ward each LSOA belongs to (observations are placed at LSOA or ward level)."""

    def __init__(self):
        self.areas = {a.id: a for a in db.session.scalars(select(Area))}

    def ward_of(self, area_id: int | None) -> Area | None:
        area = self.areas.get(area_id) if area_id else None
        while area is not None and area.level not in (AreaLevel.WARD, AreaLevel.LAD, AreaLevel.CUSTOM):
            area = self.areas.get(area.parent_id) if area.parent_id else None
        return area if area is not None and area.level is AreaLevel.WARD else None

    def wards(self, partnership: Partnership, focus: Focus) -> list[Area]:
        wards = [a for a in partnership.areas if a.level is AreaLevel.WARD]
        if not wards:  # the partnership lists only its local authority: take the wards inside it
            las = {a.id for a in partnership.areas if a.level is AreaLevel.LAD}
            wards = [a for a in self.areas.values() if a.level is AreaLevel.WARD and a.parent_id in las]
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


# Sections ----------------------------------------------------------------------------------------------------------


class Composer:
    def __init__(self, session: Session):
        self.session = session
        self.partnership = session.partnership
        self.focus = focus_of(session)
        self.k = threshold()
        self.geo = Geography()
        self.current = focus_observations(self.focus, self.focus.start, self.focus.end)
        self.previous = focus_observations(self.focus, self.focus.previous_start, self.focus.previous_end)
        self.categories = {c.id: c for c in db.session.scalars(select(Category))}
        self.indicator_sources: list[dict] = []
        self.theme_model = None
        self.obs_theme = self._themes()
        if self.obs_theme is not None and self.focus.theme_ids:
            in_focus = {i for i, (theme_id, _) in self.obs_theme.items() if theme_id in self.focus.theme_ids}
            self.current = [o for o in self.current if o.id in in_focus]
            self.previous = [o for o in self.previous if o.id in in_focus]

    def _themes(self) -> dict[int, tuple[int, str]] | None:
        """``{observation id: (theme id, label)}`` under the partnership's active theme model, or None without one
        (then observations are grouped by category)."""
        try:
            from nlp.models import Theme, ThemeAssignment, active_model
        except ImportError:
            return None
        model = active_model(self.partnership.id)
        if model is None:
            return None
        self.theme_model = model
        ids = [o.id for o in [*self.current, *self.previous]]
        mapping: dict[int, tuple[int, str]] = {}
        if not ids:
            return mapping
        rows = db.session.execute(
            select(ThemeAssignment.observation_id, Theme)
            .join(Theme, Theme.id == ThemeAssignment.theme_id)
            .where(ThemeAssignment.model_id == model.id, ThemeAssignment.observation_id.in_(ids))
        )
        for obs_id, theme in rows:
            theme = theme.canonical()
            if not theme.hidden:
                mapping[obs_id] = (theme.id, theme.label)
        return mapping

    @property
    def group_word(self) -> str:
        return "Theme" if self.obs_theme is not None else "Category"

    def theme_ids_used(self) -> list[int]:
        if self.obs_theme is None:
            return []
        ids = {o.id for o in self.current}
        return sorted({theme_id for obs_id, (theme_id, _) in self.obs_theme.items() if obs_id in ids})

    @property
    def has_data(self) -> bool:
        return bool(self.current or self.previous)

    def _shows(self, count: int) -> bool:
        """A count that is shown as a number (not zero, not suppressed)."""
        return count > 0 and not suppress(count, self.k).suppressed

    def group_name(self, obs: Observation) -> str:
        if self.obs_theme is not None:
            return self.obs_theme.get(obs.id, (None, UNTHEMED))[1]
        category = self.categories.get(obs.category_id)
        return category.name if category else "Uncategorised"

    def compose(self) -> list[SectionDraft]:
        return [
            self.headlines(),
            self.needs_assets(),
            self.indicators(),
            self.map(),
            self.quotes(),
            self.gaps(),
            self.actions(),
            self.questions(),
        ]

    # Headline changes ---------------------------------------------------------------------------------------------

    def _changes(self) -> list[dict]:
        now = Counter(self.group_name(o) for o in self.current)
        before = Counter(self.group_name(o) for o in self.previous)
        rows = []
        for name in sorted(set(now) | set(before)):
            n, p = now[name], before[name]
            shown_n, shown_p = suppress(n, self.k), suppress(p, self.k)
            if shown_n.suppressed or shown_p.suppressed:
                direction = "not comparable (small numbers)"
            elif n >= p * 1.25 and n - p >= 3:
                direction = "rising"
            elif n <= p * 0.8 and p - n >= 3:
                direction = "falling"
            else:
                direction = "steady"
            rows.append({"name": name, "now": n, "before": p, "direction": direction})
        rows.sort(key=lambda r: (-r["now"], -r["before"], r["name"]))
        return rows

    def headlines(self) -> SectionDraft:
        rows = self._changes()
        total_now, total_before = len(self.current), len(self.previous)
        lines = [
            f"From {self.focus.period_label}, member organisations and residents recorded "
            f"**{_n(total_now)}** observations{self._where()}, against {_n(total_before)} in the previous period "
            f"of the same length ({self.focus.previous_label}).",
            "",
        ]
        rising = [r for r in rows if r["direction"] == "rising" and r["name"] != UNTHEMED]
        falling = [r for r in rows if r["direction"] == "falling" and r["name"] != UNTHEMED]
        for label, group in (("Rising", rising), ("Falling", falling)):
            if group:
                items = "; ".join(f"{r['name']} ({_n(r['now'])}, was {_n(r['before'])})" for r in group[:5])
                lines.append(f"- **{label}:** {items}.")
        if not rising and not falling:
            lines.append("- No group of observations rose or fell markedly between the two periods.")
        shown = [r for r in rows if self._shows(r["now"]) or self._shows(r["before"])]
        small = sorted(r["name"] for r in rows if r not in shown)
        if shown:
            lines += ["", f"| {self.group_word} | This period | Previous period | Change |", "|---|---:|---:|---|"]
            lines += [f"| {r['name']} | {_n(r['now'])} | {_n(r['before'])} | {r['direction']} |" for r in shown]
        if small:
            lines += ["", f"Fewer than {self.k} observations in both periods: {', '.join(small)}."]
        chart_rows = []
        for r in rows:
            for series, n in (("This period", r["now"]), ("Previous period", r["before"])):
                if not suppress(n, self.k).suppressed and n > 0:
                    chart_rows.append({"label": r["name"], "value": n, "period": series})
        charts = []
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
                    f"Bar chart of observations by {self.group_word.lower()} in this period and the previous period; "
                    "the table below gives the same figures.",
                    f"This period: {self.focus.period_label}. Previous: {self.focus.previous_label}. Counts below "
                    f"{self.k} are not drawn.",
                )
            )
        weekly = self._weekly()
        if weekly:
            charts.append(
                chart(
                    line_chart(weekly, "Observations per week", "Needs and assets recorded per week"),
                    "Line chart of needs and assets recorded per week during the period.",
                    f"Weeks with fewer than {self.k} observations of a kind are not drawn.",
                )
            )
        return SectionDraft(SectionKind.HEADLINES, SectionKind.HEADLINES.label, "\n".join(lines), {"charts": charts})

    def _weekly(self) -> list[dict]:
        counts: Counter = Counter()
        for o in self.current:
            week = o.period_start - timedelta(days=o.period_start.weekday())
            counts[(week.isoformat(), "Needs" if o.kind is ObservationKind.NEED else "Assets")] += 1
        rows = [{"week": w, "series": s, "value": n} for (w, s), n in sorted(counts.items())]
        return [r for r in rows if not suppress(r["value"], self.k).suppressed]

    def _where(self) -> str:
        return f" in {', '.join(self.focus.area_names)}" if self.focus.area_names else ""

    # Needs and assets -----------------------------------------------------------------------------------------------

    def needs_assets(self) -> SectionDraft:
        needs = Counter(self.group_name(o) for o in self.current if o.kind is ObservationKind.NEED)
        assets = Counter(self.group_name(o) for o in self.current if o.kind is ObservationKind.ASSET)
        names = sorted(set(needs) | set(assets), key=lambda n: (-(needs[n] + assets[n]), n))
        lines = [
            f"What groups see going wrong (needs) beside what is helping (assets), by {self.group_word.lower()}, in "
            "this period.",
            "",
            f"| {self.group_word} | Needs | Assets |",
            "|---|---:|---:|",
        ]
        shown = [n for n in names if self._shows(needs[n]) or self._shows(assets[n])]
        lines += [f"| {n} | {_n(needs[n])} | {_n(assets[n])} |" for n in shown]
        small = sorted(n for n in names if n not in shown)
        if small:
            lines += ["", f"Fewer than {self.k} needs and fewer than {self.k} assets: {', '.join(small)}."]
        thin = [n for n in names if needs[n] >= self.k and assets[n] == 0]
        if thin:
            lines += ["", f"Needs with no asset recorded beside them: {', '.join(thin)}."]
        rows = []
        for n in names:
            for series, counter in (("Needs", needs), ("Assets", assets)):
                if counter[n] and not suppress(counter[n], self.k).suppressed:
                    rows.append({"label": n, "value": counter[n], "kind": series})
        charts = []
        if rows:
            charts.append(
                chart(
                    bar_chart(
                        rows,
                        f"Needs and assets by {self.group_word.lower()}",
                        "Observations",
                        "Needs beside assets",
                        color_field="kind",
                    ),
                    f"Bar chart of needs and assets in each {self.group_word.lower()}; the table gives the same "
                    "figures.",
                    f"Counts below {self.k} are not drawn.",
                )
            )
        return SectionDraft(
            SectionKind.NEEDS_ASSETS, SectionKind.NEEDS_ASSETS.label, "\n".join(lines), {"charts": charts}
        )

    # Indicators -----------------------------------------------------------------------------------------------------

    def _indicator_context(self, wards: list[Area]) -> tuple[list[dict], dict[int, float]]:
        """Latest values per indicator for the focus wards, and each ward's share of LSOAs in the most deprived 20%."""
        try:
            from indicators.models import Indicator, IndicatorDataset, IndicatorValue, ValueKind
        except ImportError:
            return [], {}
        ward_ids = {w.id for w in wards}
        lsoa_ward = {a.id: a.parent_id for a in self.geo.areas.values() if a.level is AreaLevel.LSOA}
        results: list[dict] = []
        deprived_share: dict[int, float] = {}
        indicators = list(
            db.session.scalars(
                select(Indicator)
                .join(IndicatorDataset)
                .order_by(IndicatorDataset.release_date.desc(), Indicator.position)
            )
        )
        seen_names: set[str] = set()
        for ind in indicators:
            # An older release of the same measure: found by the dataset and indicator keys, else by name.
            same = f"{ind.dataset.key}:{ind.key}" if ind.dataset.key and ind.key else ind.name
            if same in seen_names:
                continue
            values = list(db.session.scalars(select(IndicatorValue).where(IndicatorValue.indicator_id == ind.id)))
            if not values:
                continue
            seen_names.add(same)
            ds = ind.dataset
            if ind.value_kind is ValueKind.RANK and ind.level is AreaLevel.LSOA:
                per_ward: dict[int, list[int]] = defaultdict(list)
                for v in values:
                    ward = lsoa_ward.get(v.area_id)
                    if ward in ward_ids and v.decile is not None:
                        per_ward[ward].append(v.decile)
                if not per_ward:
                    continue
                shares = {w: sum(1 for d in ds_ if d <= 2) / len(ds_) for w, ds_ in per_ward.items()}
                if (ind.dataset.key == "iod" and ind.key == "imd") or not deprived_share:
                    deprived_share = shares
                all_deciles = [d for ds_ in per_ward.values() for d in ds_]
                share = sum(1 for d in all_deciles if d <= 2) / len(all_deciles)
                results.append(
                    {
                        "indicator": ind.name,
                        "value": f"{share:.0%} of LSOAs in the most deprived 20%",
                        "period": values[0].period_key,
                        "trend": "single release",
                        "source": f"{ds.publisher or ds.title}, released {ds.release_label}, {ind.geography_label}",
                        "sort": -share,
                    }
                )
                self._cite(ds)
            else:
                in_focus = [
                    v
                    for v in values
                    if v.area_id in ward_ids
                    or v.area_id in self.focus.area_ids
                    or (not self.focus.area_ids and v.area_id in {a.id for a in self.partnership.areas})
                ]
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
        return results[:14], deprived_share

    def _cite(self, ds) -> None:
        entry = {"title": ds.title, "publisher": ds.publisher, "licence": ds.licence, "release": ds.release_label}
        if entry not in self.indicator_sources:
            self.indicator_sources.append(entry)

    def indicators(self) -> SectionDraft:
        wards = self.geo.wards(self.partnership, self.focus)
        rows, shares = self._indicator_context(wards)
        self._deprived_share = shares
        if not rows:
            body = (
                "No official indicator datasets have been imported for these areas yet. An administrator can "
                "import them (`commintel indicators import`)."
            )
            return SectionDraft(SectionKind.INDICATORS, SectionKind.INDICATORS.label, body, {})
        where = ", ".join(self.focus.area_names) or self.partnership.name
        lines = [
            f"Official statistics for {where}: the latest value of each measure, its trend where more than one "
            "period has been published, and who published it.",
            "",
            "| Measure | Latest | Period | Trend | Source |",
            "|---|---|---|---|---|",
        ]
        lines += [f"| {r['indicator']} | {r['value']} | {r['period']} | {r['trend']} | {r['source']} |" for r in rows]
        charts = []
        if shares:
            bars = sorted(
                ({"label": self.geo.areas[w].name, "value": round(s * 100, 1)} for w, s in shares.items()),
                key=lambda r: -r["value"],
            )[:20]
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
        return SectionDraft(SectionKind.INDICATORS, SectionKind.INDICATORS.label, "\n".join(lines), {"charts": charts})

    # Map ------------------------------------------------------------------------------------------------------------

    def _focus_wards_and_counts(self) -> tuple[list, Counter]:
        """The focus's wards, and how many of this period's observations fall in each (by ward id)."""
        counts: Counter = Counter()
        for o in self.current:
            ward = self.geo.ward_of(o.area_id)
            if ward is not None:
                counts[ward.id] += 1
        return self.geo.wards(self.partnership, self.focus), counts

    def map(self) -> SectionDraft:
        wards, counts = self._focus_wards_and_counts()
        import json

        features = []
        for w in wards:
            if not w.boundary:
                continue
            geometry = json.loads(w.boundary)
            if geometry.get("type") == "Feature":
                geometry = geometry.get("geometry")
            shown = suppress(counts[w.id], self.k)
            features.append(
                {
                    "type": "Feature",
                    "geometry": geometry,
                    "properties": {"name": w.name, "value": shown.value, "display": str(shown)},
                }
            )
        placed = sum(counts.values())
        lines = [
            f"Where this period's observations were placed: {_n(placed)} of {_n(len(self.current))} name a ward "
            "or a smaller area; the rest concern the partnership's whole area.",
            "",
        ]
        top = [(w, counts[w.id]) for w in wards if not suppress(counts[w.id], self.k).suppressed and counts[w.id]]
        top.sort(key=lambda t: -t[1])
        if top:
            lines.append("Most observations: " + "; ".join(f"{w.name} ({n})" for w, n in top[:6]) + ".")
        charts = []
        if features:
            charts.append(
                chart(
                    map_chart(features, "Observations by ward", "Map of wards shaded by number of observations"),
                    "Map of the partnership's wards, shaded by the number of observations this period; grey wards had "
                    "none or fewer than the suppression threshold.",
                    f"Ward boundaries: ONS, Open Government Licence. Grey: none, or fewer than {self.k}.",
                )
            )
        return SectionDraft(SectionKind.MAP, SectionKind.MAP.label, "\n".join(lines), {"charts": charts})

    # Quotes ---------------------------------------------------------------------------------------------------------

    def quotes(self) -> SectionDraft:
        by_group: dict[str, list[Observation]] = defaultdict(list)
        for o in sorted(self.current, key=lambda o: (-(o.people_affected or 0), o.id)):
            if o.consent_to_quote and o.redacted_text:
                by_group[self.group_name(o)].append(o)
        quotes: list[dict] = []
        for group in sorted(by_group, key=lambda g: -len(by_group[g])):
            for o in by_group[group][:QUOTES_PER_GROUP]:
                if len(quotes) >= MAX_QUOTES:
                    break
                quotes.append(
                    {
                        "observation_id": o.id,
                        "group": group,
                        "text": _trim(o.redacted_text),
                        "attribution": attribution(o),
                    }
                )
        return SectionDraft(SectionKind.QUOTES, SectionKind.QUOTES.label, quotes_markdown(quotes), {"quotes": quotes})

    # Gaps -----------------------------------------------------------------------------------------------------------

    def gaps(self) -> SectionDraft:
        wards, counts = self._focus_wards_and_counts()
        shares = getattr(self, "_deprived_share", {})
        if shares:
            gaps = [
                (w, shares.get(w.id, 0.0), counts[w.id])
                for w in wards
                if shares.get(w.id, 0.0) >= 0.3 and counts[w.id] < self.k
            ]
            gaps.sort(key=lambda t: -t[1])
            lines = [
                f"Wards where at least 30% of small areas are among the most deprived fifth in England, but "
                f"fewer than {self.k} observations were recorded this period. Few observations here more likely "
                "mean nobody is recording than that nothing is happening.",
                "",
            ]
            if gaps:
                lines += ["| Ward | Most deprived 20% | Observations |", "|---|---:|---:|"]
                lines += [f"| {w.name} | {s:.0%} | {_n(n)} |" for w, s, n in gaps]
            else:
                lines.append("No deprived ward is short of observations this period.")
        else:
            quiet = [w for w in wards if counts[w.id] < self.k]
            lines = [
                f"No deprivation data has been imported, so gaps are shown as wards with fewer than {self.k} "
                "observations this period.",
                "",
            ]
            lines.append(", ".join(w.name for w in quiet) + "." if quiet else "Every ward has observations.")
        return SectionDraft(SectionKind.GAPS, SectionKind.GAPS.label, "\n".join(lines), {})

    # Actions --------------------------------------------------------------------------------------------------------

    def carried_actions(self) -> list[Action]:
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
        last = earlier[0]
        actions = list(last.actions)
        for s in earlier[1:]:
            actions += [a for a in s.actions if a.status.is_open]
        return actions

    def actions(self) -> SectionDraft:
        actions = self.carried_actions()
        if not actions:
            body = "There are no actions from earlier sessions."
        else:
            lines = [
                "Actions agreed at earlier sessions, with where they stand.",
                "",
                "| Action | Owner | Due | Status | Themes and areas |",
                "|---|---|---|---|---|",
            ]
            links = action_links(actions)
            for a in actions:
                due = _d(a.due_on) if a.due_on else "no date"
                owner = a.owner.name if a.owner else "unassigned"
                # Theme labels and area names only: a briefing never carries observation-level detail.
                about = "; ".join(links[a.id].themes + links[a.id].areas) or "—"
                lines.append(f"| {_cell(a.description)} | {_cell(owner)} | {due} | {a.status.label} | {_cell(about)} |")
            body = "\n".join(lines)
        return SectionDraft(
            SectionKind.ACTIONS, SectionKind.ACTIONS.label, body, {"action_ids": [a.id for a in actions]}
        )

    # Questions ------------------------------------------------------------------------------------------------------

    def questions(self) -> SectionDraft:
        rows = [r for r in self._changes() if r["name"] != UNTHEMED]
        qs = []
        for r in [r for r in rows if r["direction"] == "rising"][:2]:
            qs.append(
                f"What is behind the rise in observations about {r['name'].lower()}, and who is already responding?"
            )
        for r in [r for r in rows if r["direction"] == "falling"][:1]:
            qs.append(f"Has need around {r['name'].lower()} really eased, or are fewer groups recording it?")
        if getattr(self, "_deprived_share", None):
            qs.append("Which members could help us hear from the deprived wards where few observations are recorded?")
        if any(a.status.is_open for a in self.carried_actions()):
            qs.append("What is holding up the actions still open, and should any be dropped?")
        qs.append("What should the partnership do differently before the next session?")
        body = "\n".join(f"{i}. {q}" for i, q in enumerate(qs, 1))
        return SectionDraft(SectionKind.QUESTIONS, SectionKind.QUESTIONS.label, body, {})


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
    from nlp.models import Theme

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


def attribution(obs: Observation) -> str:
    if obs.organisation_id is None:
        return "a resident"
    kind = obs.organisation.kind if obs.organisation else None
    return f"a {OrgKind(kind).label.lower()}" if kind else "a member organisation"


def quotes_markdown(quotes: list[dict]) -> str:
    if not quotes:
        return "No quotes this period: no observation in focus was shared with consent to quote."
    lines = [
        "Observations shared with consent to quote, with personal details removed, attributed only to the kind "
        "of organisation that recorded them.",
        "",
    ]
    group = None
    for q in quotes:
        if q["group"] != group:
            group = q["group"]
            lines += [f"### {_md_escape(group)}", ""]
        lines += [f"> {_md_escape(q['text'])}", ">", f"> — {q['attribution']}", ""]
    return "\n".join(lines)


def provenance(composer: Composer, generated_at: datetime | None = None) -> dict:
    """The facts of the provenance appendix, as data (rendered by :func:`provenance_markdown`)."""
    generated_at = generated_at or datetime.now(UTC)
    orgs: dict[str, set[int]] = defaultdict(set)
    obs_by_kind: Counter = Counter()
    contributors: Counter = Counter()
    for o in composer.current:
        kind = "resident" if o.organisation_id is None else (o.organisation.kind.value if o.organisation else "")
        obs_by_kind[kind] += 1
        if o.organisation_id is not None:
            orgs[kind].add(o.organisation_id)
            contributors[o.organisation_id] += 1
    theme_model = None
    model = composer.theme_model
    if model is not None:
        theme_model = (
            f"version {model.version} ({model.embedding_model}; fitted {model.fitted_at:%d %B %Y} on "
            f"{model.corpus_size:,} observations; {model.theme_count} themes)"
        )
    return {
        "sources": composer.indicator_sources,
        "by_kind": [
            {
                "kind": k,
                "label": "Residents" if k == "resident" else OrgKind(k).label,
                "organisations": len(orgs.get(k, ())),
                "observations": n,
            }
            for k, n in sorted(obs_by_kind.items())
        ],
        "observations": len(composer.current),
        "previous_observations": len(composer.previous),
        "contributors": dict(contributors),
        "theme_model": theme_model,
        "theme_ids": composer.theme_ids_used(),
        "k": composer.k,
        "period": composer.focus.period_label,
        "generated_at": generated_at.isoformat(timespec="seconds"),
        "app_version": current_app.config.get("COMMINTEL_VERSION", ""),
    }


def provenance_markdown(facts: dict) -> str:
    k = facts["k"]
    lines = ["Where every figure in this briefing comes from.", "", "### Official statistics", ""]
    if facts["sources"]:
        lines += ["| Dataset | Publisher | Licence | Released |", "|---|---|---|---|"]
        lines += [
            f"| {_cell(s['title'])} | {_cell(s['publisher'])} | {_cell(s['licence'])} | {s['release']} |"
            for s in facts["sources"]
        ]
    else:
        lines.append("No official statistics were used.")
    lines += [
        "",
        "### Observations",
        "",
        f"{_n(facts['observations'])} observations from {facts['period']} "
        f"(previous period: {_n(facts['previous_observations'])}), shared with the partnership by organisations "
        "that accepted the current data-sharing agreement, and residents' observations approved by a moderator. "
        "Only observations with personal details removed are used.",
        "",
    ]
    if facts["by_kind"]:
        lines += ["| Contributed by | Organisations | Observations |", "|---|---:|---:|"]
        for row in facts["by_kind"]:
            orgs = "—" if row["kind"] == "resident" else _n(row["organisations"])
            lines.append(f"| {row['label']} | {orgs} | {_n(row['observations'])} |")
    lines += ["", "### Themes", ""]
    if facts.get("theme_model"):
        lines.append(
            f"Observations are grouped by the themes of the partnership's theme model, {facts['theme_model']}. "
            "Theme names may be machine-made unless a convenor renamed them."
        )
    else:
        lines.append(
            "No theme model has been run for this partnership yet: observations are grouped by the category "
            "their organisation chose."
        )
    lines += [
        "",
        "### Suppression",
        "",
        f'Every count below {k} is shown as "fewer than {k}" and left out of charts and the map, so that a '
        "small number cannot point to a person. Zero is shown as zero.",
        "",
        f"Generated by commintel at {facts['generated_at']} (UTC).",
    ]
    return "\n".join(lines)


def compose(session: Session) -> tuple[list[SectionDraft], Composer]:
    """Draft every section for ``session`` from the latest data."""
    composer = Composer(session)
    return composer.compose(), composer
