"""What the area pages show of official indicators: figures per area (direct or rolled up from LSOAs) and map
values. Read-only queries; views render what these return. What the pages show of observations (community counts,
themes, flags) is in :mod:`indicators.community`, released through :mod:`webapp.disclosure`.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from indicators import aggregation, charts
from indicators.models import Indicator, IndicatorDataset, IndicatorValue, Polarity, ValueKind
from webapp.extensions import db
from webapp.models import Area, AreaLevel, Partnership

log = logging.getLogger(__name__)

LEVEL_ORDER = {AreaLevel.LSOA: 0, AreaLevel.WARD: 1, AreaLevel.LAD: 2, AreaLevel.CUSTOM: 3}


# Geography helpers -------------------------------------------------------------------------------------------------


def local_authority_of(area: Area) -> Area | None:
    current: Area | None = area
    while current is not None and current.level is not AreaLevel.LAD:
        current = current.parent
    return current


def lsoa_ids_within(area: Area) -> list[int]:
    """The LSOAs inside ``area`` (itself for an LSOA), through the parent links of the geography."""
    if area.level is AreaLevel.LSOA:
        return [area.id]
    ids, frontier = [], [area.id]
    for _ in range(3):
        rows = db.session.execute(select(Area.id, Area.level).where(Area.parent_id.in_(frontier))).all()
        ids += [i for i, level in rows if level is AreaLevel.LSOA]
        frontier = [i for i, level in rows if level is not AreaLevel.LSOA]
        if not frontier:
            break
    return ids


def _request_cache(name: str) -> dict:
    """A dict that lives as long as the current request (empty and unshared outside one)."""
    from flask import has_request_context, request

    if not has_request_context():
        return {}
    return request._get_current_object().__dict__.setdefault(f"commintel{name}", {})


def area_ids_within(area: Area) -> list[int]:
    """``area`` and every area below it (for observations, which may be placed at any level)."""
    cache = _request_cache("_area_ids_within")
    if area.id not in cache:
        cache[area.id] = _area_ids_within(area)
    return cache[area.id]


def _area_ids_within(area: Area) -> list[int]:
    ids, frontier = [area.id], [area.id]
    for _ in range(3):
        frontier = list(db.session.scalars(select(Area.id).where(Area.parent_id.in_(frontier))))
        if not frontier:
            break
        ids += frontier
    return ids


# Indicator figures -------------------------------------------------------------------------------------------------


@dataclass
class Figure:
    """One indicator as an area page shows it."""

    indicator: Indicator
    dataset: IndicatorDataset
    period: str = ""
    value: float | None = None
    display: str = "no value"
    la_display: str = ""
    comparison: str = ""  # "higher than", ... in words
    tone: str = "neutral"  # worse / better / similar / neutral: the colour by polarity
    verdict: str = ""  # the tone in words ("better", "worse", ...): colour is never the only signal
    source_note: str = ""  # the source's marker or footnote on the latest value ("[r]", "c", ...)
    method: str = ""
    caveat: str = ""
    series: list[dict[str, Any]] = field(default_factory=list)
    sparkline: dict | None = None


WITHHELD = "withheld by the source"


def _withheld(frame: pd.DataFrame) -> bool:
    """Every value in ``frame`` was withheld by the source (a marker such as "c" or ".." where a number would be)."""
    return not frame.empty and bool(frame["suppressed"].astype(bool).all())


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "no value"
    text = f"{value:,.0f}" if float(value).is_integer() and abs(value) >= 10 else f"{value:,.1f}"
    if unit in ("%", "percent"):
        return f"{text}%"
    return f"{text} {unit}".strip() if unit and unit not in ("count", "rank") else text


def _rank_display(rollup: aggregation.Rollup, level: AreaLevel, decile: float | None, rank: float | None) -> str:
    if level is AreaLevel.LSOA:
        if decile is None:
            return "no value"
        rank_text = f", rank {int(rank):,} of {aggregation.IOD2019_LSOAS:,}" if rank is not None else ""
        return f"decile {int(decile)}{rank_text}"
    if rollup.share_10 is None:
        return "no value"
    return f"{rollup.share_10:.0%} of LSOAs in England's most deprived 10% ({rollup.share_20:.0%} in the 20%)"


def _verdict(tone: str) -> str:
    """The colour of a figure in words, for whoever cannot see or tell the colours apart."""
    return tone if tone in ("better", "worse") else ""


def _tone(indicator: Indicator, value: float | None, la_value: float | None) -> tuple[str, str]:
    if value is None or la_value is None:
        return "neutral", ""
    diff = (0.0 if value == 0 else 1.0) if la_value == 0 else (value - la_value) / abs(la_value)
    if abs(diff) < 0.05:
        return ("similar" if indicator.polarity is not Polarity.NEUTRAL else "neutral"), "about the same as"
    higher = diff > 0
    words = "higher than" if higher else "lower than"
    if indicator.polarity is Polarity.NEUTRAL:
        return "neutral", words
    worse = higher if indicator.polarity is Polarity.HIGHER_IS_WORSE else not higher
    return ("worse" if worse else "better"), words


VALUE_COLUMNS = [
    "indicator_id", "area_id", "period_key", "period_start", "value", "rank", "decile", "suppressed", "note",
]  # fmt: skip


def _sql_series(area_ids: list[int], indicator_ids: list[int]) -> dict[int, list]:
    """Per indicator (counts: sum; rates and scores: unweighted mean), per period, computed by the database."""
    out: dict[int, list] = {i: [] for i in indicator_ids}
    if not area_ids or not indicator_ids:
        return out
    kinds = dict(
        db.session.execute(select(Indicator.id, Indicator.value_kind).where(Indicator.id.in_(indicator_ids))).all()
    )
    stmt = (
        select(
            IndicatorValue.indicator_id,
            IndicatorValue.period_key,
            IndicatorValue.period_start,
            func.sum(IndicatorValue.value),
            func.avg(IndicatorValue.value),
        )
        .where(IndicatorValue.indicator_id.in_(indicator_ids), IndicatorValue.area_id.in_(area_ids))
        .group_by(IndicatorValue.indicator_id, IndicatorValue.period_key, IndicatorValue.period_start)
        .order_by(IndicatorValue.indicator_id, IndicatorValue.period_start)
    )
    for indicator_id, key, start, total, mean in db.session.execute(stmt):
        value = total if kinds[indicator_id] is ValueKind.COUNT else mean
        out[indicator_id].append((key, start, aggregation.Rollup(None if value is None else float(value))))
    return out


def _values_frame(area_ids: list[int], indicator_ids: list[int], period_key: str | None = None) -> pd.DataFrame:
    if not area_ids or not indicator_ids:
        return pd.DataFrame(columns=VALUE_COLUMNS)
    stmt = select(
        IndicatorValue.indicator_id,
        IndicatorValue.area_id,
        IndicatorValue.period_key,
        IndicatorValue.period_start,
        IndicatorValue.value,
        IndicatorValue.rank,
        IndicatorValue.decile,
        IndicatorValue.suppressed,
        IndicatorValue.note,
    ).where(IndicatorValue.indicator_id.in_(indicator_ids))
    if period_key is not None:
        stmt = stmt.where(IndicatorValue.period_key == period_key)
    # Long IN lists are slow to plan; above a few hundred areas filter by parent in Python instead.
    if len(area_ids) <= 1000:
        stmt = stmt.where(IndicatorValue.area_id.in_(area_ids))
    frame = pd.DataFrame(
        db.session.execute(stmt).all(),
        columns=VALUE_COLUMNS,
    )
    if len(area_ids) > 1000:
        frame = frame[frame["area_id"].isin(set(area_ids))]
    for column in ("value", "rank", "decile"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return frame


def _series(frame: pd.DataFrame, kind: ValueKind, n_areas: int) -> list[tuple[str, date, aggregation.Rollup]]:
    """Per period (in time order): the rolled-up figure of ``frame`` (one indicator, many areas).

    Small frames (a ward's LSOAs) are grouped in plain Python; large ones use the vectorised
    :func:`aggregation.series`, with the full :func:`aggregation.rollup` for the latest period only.
    """
    if len(frame) <= 5000:
        groups: dict[tuple, list] = defaultdict(list)
        columns = [frame[c].tolist() for c in ("period_start", "period_key", "value", "rank", "decile")]
        for start, key, value, rank, decile in zip(*columns, strict=True):
            groups[(start, key)].append((value, rank, decile))
        return [
            (key, start, aggregation.rollup_rows(rows, kind.value, n_areas))
            for (start, key), rows in sorted(groups.items())
        ]
    values = aggregation.series(frame, kind.value)
    out = []
    for row in values.itertuples(index=False):
        value = None if pd.isna(row.value) else float(row.value)
        out.append((row.period_key, row.period_start, aggregation.Rollup(value)))
    if out:
        key, start, _ = out[-1]
        out[-1] = (key, start, aggregation.rollup(frame[frame["period_key"] == key], kind.value, n_areas))
    return out


def _direct_series(frame: pd.DataFrame) -> list[tuple[str, date, aggregation.Rollup, pd.Series]]:
    out = []
    for _, row in frame.sort_values("period_start").iterrows():
        value = None if pd.isna(row["value"]) else float(row["value"])
        out.append((row["period_key"], row["period_start"], aggregation.Rollup(value, n_areas=1, n_used=1), row))
    return out


_LA_CACHE: dict[tuple, tuple[float | None, str]] = {}


def _la_figure(indicator: Indicator, la: Area, period_key: str) -> tuple[float | None, str]:
    """The local authority's figure for an indicator and period (cached: the LA's LSOAs are many)."""
    key = (indicator.id, la.id, period_key, indicator.dataset.imported_at)
    if key in _LA_CACHE:
        return _LA_CACHE[key]
    if indicator.level is AreaLevel.LAD or indicator.level is la.level:
        frame = _values_frame([la.id], [indicator.id])
        frame = frame[frame["period_key"] == period_key]
        value = None if frame.empty or pd.isna(frame["value"].iloc[0]) else float(frame["value"].iloc[0])
        result = (value, _fmt(value, indicator.unit))
    else:
        ids = lsoa_ids_within(la)
        frame = _values_frame(ids, [indicator.id])
        frame = frame[frame["period_key"] == period_key]
        rollup = aggregation.rollup(frame, indicator.value_kind.value, len(ids))
        if indicator.value_kind is ValueKind.RANK:
            result = (rollup.share_10, _rank_display(rollup, la.level, None, None))
        else:
            result = (rollup.value, _fmt(rollup.value, indicator.unit))
    if len(_LA_CACHE) > 2000:
        _LA_CACHE.clear()
    _LA_CACHE[key] = result
    return result


def all_indicators() -> list[Indicator]:
    return list(
        db.session.scalars(
            select(Indicator)
            .options(joinedload(Indicator.dataset))
            .join(IndicatorDataset)
            .order_by(IndicatorDataset.title, Indicator.position)
        ).unique()
    )


def area_figures(area: Area) -> list[Figure]:
    """Every indicator that has a value for ``area``, directly or rolled up from the LSOAs inside it."""
    indicators = all_indicators()
    la = local_authority_of(area)
    direct_ids = [i.id for i in indicators if i.level is area.level]
    below_ids = [
        i.id for i in indicators if LEVEL_ORDER[i.level] < LEVEL_ORDER[area.level] and i.level is AreaLevel.LSOA
    ]
    direct = _values_frame([area.id], direct_ids)
    lsoas = lsoa_ids_within(area) if below_ids else []
    by_id = {i.id: i for i in indicators}
    # Ranks come in one or two releases: fetch their rows. Long monthly series are summed or averaged in SQL, and
    # only their latest period's rows are fetched (for the caveat): an authority has 263 LSOAs x 166 months.
    row_ids = [i for i in below_ids if by_id[i].value_kind is ValueKind.RANK or len(lsoas) <= 40]
    below = _values_frame(lsoas, row_ids)
    ids_below = below["indicator_id"].to_numpy()
    below_by_indicator = {i: below[ids_below == i] for i in row_ids}  # masks: cheaper than groupby's copies here
    sql_series = _sql_series(lsoas, [i for i in below_ids if i not in row_ids])
    figures = []
    for indicator in indicators:
        figure = Figure(indicator, indicator.dataset)
        kind = indicator.value_kind
        if indicator.id in direct_ids:
            frame = direct[direct["indicator_id"] == indicator.id]
            if frame.empty:
                continue
            points = _direct_series(frame)
            key, _start, rollup, row = points[-1]
            figure.value = rollup.value
            if kind is ValueKind.RANK:
                decile = None if pd.isna(row["decile"]) else row["decile"]
                rank = None if pd.isna(row["rank"]) else row["rank"]
                if decile is None and rank is not None:
                    decile = aggregation.decile_from_rank(rank)
                figure.value = decile
                figure.display = _rank_display(rollup, area.level, decile, rank)
            else:
                figure.display = _fmt(rollup.value, indicator.unit)
            if figure.value is None and bool(row["suppressed"]):
                figure.display = WITHHELD
            figure.source_note = str(row["note"] or "")
            series = [(k, s, r.value, r.value is None and bool(x["suppressed"])) for k, s, r, x in points]
        elif indicator.id in below_ids:
            if indicator.id in sql_series:
                points3 = sql_series[indicator.id]
                if not points3:
                    continue
                latest = _values_frame(lsoas, [indicator.id], period_key=points3[-1][0])
                key, start, _ = points3[-1]
                points3[-1] = (key, start, aggregation.rollup(latest, kind.value, len(lsoas)))
            else:
                frame = below_by_indicator.get(indicator.id)
                if frame is None or frame.empty:
                    continue
                points3 = _series(frame, kind, len(lsoas))
                latest = frame[frame["period_key"] == points3[-1][0]]
            key, _start, rollup = points3[-1]
            figure.method = rollup.method
            figure.caveat = rollup.caveat
            if kind is ValueKind.RANK:
                figure.value = rollup.share_10
                figure.display = _rank_display(rollup, area.level, None, None)
            else:
                figure.value = rollup.value
                figure.display = _fmt(rollup.value, indicator.unit)
            if figure.value is None and _withheld(latest):
                figure.display = WITHHELD
            series = [(k, s, r.value, False) for k, s, r in points3]
            if series and figure.display == WITHHELD:
                series[-1] = (*series[-1][:3], True)
        else:
            continue
        figure.period = _period_label(key)
        if la is not None and la.id != area.id and LEVEL_ORDER[indicator.level] <= LEVEL_ORDER[AreaLevel.LAD]:
            la_value, figure.la_display = _la_figure(indicator, la, key)
            if kind is ValueKind.RANK:
                if area.level is AreaLevel.LSOA:
                    d = figure.value
                    figure.tone = "neutral" if d is None else "worse" if d <= 2 else "better" if d >= 9 else "similar"
                    figure.verdict = {
                        "worse": "worse: among England's most deprived 20%",
                        "better": "better: among England's least deprived 20%",
                    }.get(figure.tone, "")
                else:
                    # A larger share in the most deprived 10% is worse, whatever the domain.
                    tone, figure.comparison = _tone(
                        Indicator(polarity=Polarity.HIGHER_IS_WORSE), figure.value, la_value
                    )
                    figure.tone = tone
                    figure.verdict = _verdict(tone)
            elif kind is not ValueKind.COUNT:  # a sum over a ward is not comparable with the authority's sum
                figure.tone, figure.comparison = _tone(indicator, figure.value, la_value)
                figure.verdict = _verdict(figure.tone)
        figure.series = [
            {
                "start": s.isoformat(),
                "period": _period_label(k),
                "value": v,
                "display": WITHHELD if withheld else _fmt(v, indicator.unit),
            }
            for k, s, v, withheld in series
        ]
        if len([p for p in figure.series if p["value"] is not None]) >= 2:
            first, last = figure.series[0]["period"], figure.series[-1]["period"]
            figure.sparkline = charts.sparkline(
                figure.series, f"Trend of {indicator.name} in {area.name} from {first} to {last}."
            )
        figures.append(figure)
    return figures


def _period_label(key: str) -> str:
    if key.startswith(("FY", "AY")):
        return f"{key[2:]} ({'financial' if key.startswith('FY') else 'academic'} year)"
    if len(key) == 7 and key[4] == "-" and key[5:].isdigit():
        import calendar

        return f"{calendar.month_abbr[int(key[5:])]} {key[:4]}"
    return key.replace("-Q", " Q")


# Map ---------------------------------------------------------------------------------------------------------------


@dataclass
class MapLayer:
    indicator: Indicator | None
    title: str
    value_title: str
    period: str
    rows: list[dict[str, Any]]  # code, name, value, display, geometry
    polarity: str = "neutral"
    method: str = ""
    caveat: str = ""

    def spec(self) -> dict:
        described = sum(1 for r in self.rows if r["value"] is not None)
        return charts.choropleth(
            self.rows,
            self.title,
            self.value_title,
            self.polarity,
            description=f"Map of {len(self.rows)} areas coloured by {self.value_title.lower()} ({self.period}); "
            f"{described} have a value. The table beside the map lists every value.",
        )


def map_areas(partnership: Partnership | None, level: AreaLevel) -> list[Area]:
    """The partnership's areas at ``level`` (its wards, or the LSOAs inside them); without one, every such area."""
    if partnership is None or not partnership.areas:  # no partnership, or one without areas yet: every area
        return list(db.session.scalars(select(Area).where(Area.level == level).order_by(Area.name)))
    ids: set[int] = set()
    for area in partnership.areas:
        if area.level is level:
            ids.add(area.id)
        elif LEVEL_ORDER[area.level] > LEVEL_ORDER[level]:
            ids.update(lsoa_ids_within(area) if level is AreaLevel.LSOA else [c.id for c in area.children])
    if not ids:
        return []
    return list(db.session.scalars(select(Area).where(Area.id.in_(ids), Area.level == level).order_by(Area.name)))


def map_indicators(level: AreaLevel) -> list[Indicator]:
    return [i for i in all_indicators() if LEVEL_ORDER[i.level] <= LEVEL_ORDER[level] and i.level is not AreaLevel.LAD]


def default_map_indicator(indicators: list[Indicator]) -> Indicator | None:
    """The overall deprivation index when there is one (what most people look for), else the first."""
    return next((i for i in indicators if "Multiple" in i.name), indicators[0] if indicators else None)


def map_layer(areas: list[Area], level: AreaLevel, indicator: Indicator) -> MapLayer:
    """The latest period of ``indicator`` for each of ``areas``, rolled up from LSOAs where needed."""
    import json

    geometry = {a.id: json.loads(a.boundary) if a.boundary else None for a in areas}
    kind = indicator.value_kind.value
    latest = db.session.execute(
        select(IndicatorValue.period_key, IndicatorValue.period_start)
        .where(IndicatorValue.indicator_id == indicator.id)
        .order_by(IndicatorValue.period_start.desc())
        .limit(1)
    ).first()
    period_key = latest[0] if latest else ""
    values: dict[int, tuple[float | None, str]] = {}
    method = caveat = ""
    value_title = (
        indicator.name if not indicator.unit or indicator.unit == "rank" else f"{indicator.name} ({indicator.unit})"
    )
    polarity = indicator.polarity.value
    if indicator.level is level:
        frame = _values_frame([a.id for a in areas], [indicator.id])
        frame = frame[frame["period_key"] == period_key]
        for row in frame.itertuples():
            if kind == "rank":
                decile = row.decile if not pd.isna(row.decile) else aggregation.decile_from_rank(row.rank)
                values[row.area_id] = (float(decile), f"decile {int(decile)}")
            else:
                v = None if pd.isna(row.value) else float(row.value)
                values[row.area_id] = (v, WITHHELD if v is None and row.suppressed else _fmt(v, indicator.unit))
        if kind == "rank":
            value_title = f"{indicator.name}: decile (1 = most deprived 10%)"
    else:
        children = db.session.execute(
            select(Area.id, Area.parent_id).where(
                Area.parent_id.in_([a.id for a in areas]), Area.level == AreaLevel.LSOA
            )
        ).all()
        parents = pd.Series({child: parent for child, parent in children}, dtype="int64")
        frame = _values_frame(list(parents.index), [indicator.id])
        frame = frame[frame["period_key"] == period_key].set_index("area_id")
        rolled = aggregation.rollup_frame(frame[["value", "rank", "decile"]], parents, kind) if len(parents) else None
        caveats = set()
        if rolled is not None:
            for area_id, r in rolled.iterrows():
                if kind == "rank":
                    share = r["share_10"]
                    values[int(area_id)] = (
                        None if pd.isna(share) else round(share * 100, 1),
                        "no value" if pd.isna(share) else f"{share:.0%}",
                    )
                else:
                    v = None if pd.isna(r["value"]) else float(r["value"])
                    values[int(area_id)] = (v, _fmt(v, indicator.unit))
                if r["caveat"]:
                    caveats.add(r["caveat"].split(":")[0] if "Unweighted" in r["caveat"] else "")
                method = r["method"]
        caveat = " ".join(sorted(c for c in caveats if c))
        if caveat:
            caveat += ": the populations of the LSOAs are not known, so small and large LSOAs count the same."
        if kind == "rank":
            value_title = f"{indicator.name}: % of LSOAs in the most deprived 10%"
            polarity = "worse"
    rows = [
        {
            "code": a.code,
            "name": a.name,
            "geometry": geometry[a.id],
            "value": values.get(a.id, (None, "no value"))[0],
            "display": values.get(a.id, (None, "no value"))[1],
        }
        for a in areas
    ]
    return MapLayer(
        indicator,
        f"{indicator.name}, {_period_label(period_key)}" if period_key else indicator.name,
        value_title,
        _period_label(period_key),
        rows,
        polarity,
        method,
        caveat,
    )
