"""What an area page shows of official indicators: each indicator's figure for the area, direct, through the LSOA
2011 → 2021 bridge, or rolled up from the LSOAs inside it, with its series; and the indicators published only for
an area above it. Read-only; views render what these return. Comparisons with the local authority are in
:mod:`indicators.comparison`, earlier releases in :mod:`indicators.releases`, maps in :mod:`indicators.maps`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import func, select

from indicators import aggregation
from indicators.comparison import compare_with_la
from indicators.models import Indicator, IndicatorDataset, IndicatorValue, ValueKind
from indicators.releases import Earlier, with_earlier_releases
from indicators.values import (
    WITHHELD,
    all_indicators,
    all_withheld,
    fmt_value,
    period_label,
    rank_display,
    ranked_areas,
    values_frame,
)
from webapp import charts
from webapp.extensions import db
from webapp.hierarchy import LEVEL_ORDER, local_authority_of, lsoa_ids_within
from webapp.models import Area, AreaChange, AreaChangeKind, AreaLevel


@dataclass(frozen=True)
class Counterparts:
    """The areas of another vintage that stand for an area across the LSOA 2011 → 2021 bridge."""

    change: AreaChangeKind
    areas: list[Area]
    earlier: bool  # the counterparts are the older vintage (predecessors), else the newer (successors)
    method: str
    year: int  # their vintage

    @property
    def note(self) -> str:
        codes = ", ".join(f"{a.code} ({a.name})" for a in self.areas)
        year, n = self.year, len(self.areas)
        if self.earlier:
            how = {
                AreaChangeKind.SPLIT: f"the {year} LSOA it was split from, {codes}",
                AreaChangeKind.MERGED: f"the {n} {year} LSOAs merged into it: {codes}",
                AreaChangeKind.COMPLEX: f"the {year} LSOA{'s' if n > 1 else ''} it was redrawn from (complex "
                f"change): {codes}",
            }.get(self.change, codes)
        else:
            how = {
                AreaChangeKind.SPLIT: f"the {n} {year} LSOAs it was split into: {codes}",
                AreaChangeKind.MERGED: f"the {year} LSOA it was merged into, {codes}",
                AreaChangeKind.COMPLEX: f"the {year} LSOA{'s' if n > 1 else ''} it was redrawn into (complex "
                f"change): {codes}",
            }.get(self.change, codes)
        return f"Shown for {how}, through the {self.method}."


def counterparts(area: Area, vintage: int | None) -> Counterparts | None:
    """For an LSOA that does not carry ``vintage``: the areas of that vintage it came from or became (ONS change
    code S, M or X), or None when the bridge has nothing (not an LSOA, same vintage, bridge not loaded)."""
    if area.level is not AreaLevel.LSOA or vintage is None or not area.vintages or vintage in area.vintage_years:
        return None
    earlier = vintage < min(area.vintage_years)
    stmt = select(AreaChange).where(
        (AreaChange.new_area_id == area.id) if earlier else (AreaChange.old_area_id == area.id),
        (AreaChange.old_year if earlier else AreaChange.new_year) == vintage,
    )
    changes = list(db.session.scalars(stmt))
    if not changes:
        return None
    others = sorted((c.old_area if earlier else c.new_area for c in changes), key=lambda a: a.code)
    kinds = {c.change for c in changes}
    change = AreaChangeKind.COMPLEX if AreaChangeKind.COMPLEX in kinds or len(kinds) > 1 else kinds.pop()
    return Counterparts(change, others, earlier, "ONS LSOA 2011 → 2021 lookup", vintage)


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
    bridge_note: str = ""  # the value is another vintage's area's, through the LSOA 2011 → 2021 bridge
    interval: str = ""  # the source's 95% confidence interval
    stale: str = ""  # the latest period is long past: said in words
    earlier: list[Earlier] = field(default_factory=list)
    period_end: date | None = None

    @property
    def geography(self) -> str:
        return self.indicator.geography_label


STALE_AFTER = timedelta(days=2 * 365)


def _sql_series(area_ids: list[int], indicator_ids: list[int]) -> dict[int, list]:
    """Per indicator (counts: sum; rates and scores: unweighted mean), per period, computed by the database."""
    out: dict[int, list] = {i: [] for i in indicator_ids}
    if not area_ids or not indicator_ids:
        return out
    kinds = dict(
        db.session.execute(select(Indicator.id, Indicator.value_kind).where(Indicator.id.in_(indicator_ids)))
        .tuples()
        .all()
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


def _series(
    frame: pd.DataFrame, kind: ValueKind, n_areas: int, ranked: int = aggregation.IOD2019_LSOAS
) -> list[tuple[str, date, aggregation.Rollup]]:
    """Per period (in time order): the rolled-up figure of ``frame`` (one indicator, many areas).

    Small frames (a ward's LSOAs) are grouped in plain Python; large ones use the vectorised
    :func:`aggregation.series`, with the full :func:`aggregation.rollup` for the latest period only.
    """
    if len(frame) <= 5000:
        columns = [frame[c].tolist() for c in ("period_start", "period_key", "value", "rank", "decile")]
        return aggregation.rollup_periods(zip(*columns, strict=True), kind.value, n_areas, ranked)
    values = aggregation.series(frame, kind.value, ranked)
    out = []
    for row in values.itertuples(index=False):
        value = None if pd.isna(row.value) else float(row.value)
        out.append((row.period_key, row.period_start, aggregation.Rollup(value)))
    if out:
        key, start, _ = out[-1]
        out[-1] = (key, start, aggregation.rollup(frame[frame["period_key"] == key], kind.value, n_areas, ranked))
    return out


def _direct_series(frame: pd.DataFrame) -> list[tuple[str, date, aggregation.Rollup, pd.Series]]:
    out = []
    for _, row in frame.sort_values("period_start").iterrows():
        value = None if pd.isna(row["value"]) else float(row["value"])
        out.append((row["period_key"], row["period_start"], aggregation.Rollup(value, n_areas=1, n_used=1), row))
    return out


def _interval(row: pd.Series, unit: str) -> str:
    if pd.isna(row.get("lower")) or pd.isna(row.get("upper")):
        return ""
    return f"95% confidence interval {fmt_value(float(row['lower']), unit)} to {fmt_value(float(row['upper']), unit)}"


def _direct_figure(figure: Figure, frame: pd.DataFrame, area: Area) -> tuple[list, str]:
    """Fill ``figure`` from the area's own values (one indicator); returns its series points and latest period."""
    indicator = figure.indicator
    points = _direct_series(frame)
    key, _start, rollup, row = points[-1]
    figure.value = rollup.value
    if indicator.value_kind is ValueKind.RANK:
        decile = None if pd.isna(row["decile"]) else row["decile"]
        rank = None if pd.isna(row["rank"]) else row["rank"]
        if decile is None and rank is not None:
            decile = aggregation.decile_from_rank(rank, ranked_areas(indicator))
        figure.value = decile
        score = None if pd.isna(row["value"]) else float(row["value"])
        figure.display = rank_display(rollup, area.level, decile, rank, indicator.ranked_areas, score)
    else:
        figure.display = fmt_value(rollup.value, indicator.unit)
        figure.interval = _interval(row, indicator.unit)
    if figure.value is None and bool(row["suppressed"]):
        figure.display = WITHHELD
    figure.source_note = str(row["note"] or "")
    figure.period = period_label(key)
    figure.period_end = row["period_end"]
    return [(k, s, r.value, r.value is None and bool(x["suppressed"])) for k, s, r, x in points], key


def bridged_figure(figure: Figure, area: Area, others: Counterparts) -> tuple[list, str] | None:
    """Fill ``figure`` for an LSOA from the areas of the indicator's vintage that stand for it (see
    :class:`Counterparts`); returns its series points and latest period, or None when they have no value.

    One counterpart: its figure, with a note naming it (a count of a 2011 LSOA that was split is not divided: it
    is shown as that LSOA's count, without a colour). Several: their figures listed (the sum for counts of LSOAs
    merged into this one, which add up exactly)."""
    indicator = figure.indicator
    frame = values_frame([a.id for a in others.areas], [indicator.id])
    if frame.empty:
        return None
    figure.bridge_note = others.note
    if len(others.areas) == 1:
        points, key = _direct_figure(figure, frame, others.areas[0])
        # One old LSOA for this new one: split (or redrawn) from it. One new LSOA for this old one: merged into it.
        # Either way a count covers another area than this one: shown, never coloured or compared.
        if indicator.value_kind is ValueKind.COUNT:
            figure.display = f"{figure.display} (the whole of {others.areas[0].code})"
            figure.value = None
            points = [(k, s, None, w) for k, s, _v, w in points]
        return points, key
    latest = frame[frame["period_start"] == frame["period_start"].max()]
    key = latest["period_key"].iloc[0]
    figure.period = period_label(key)
    figure.period_end = latest["period_end"].iloc[0]
    by_area = {int(r.area_id): r for r in latest.itertuples()}
    parts = []
    for a in others.areas:
        r = by_area.get(a.id)
        if r is None:
            continue
        if indicator.value_kind is ValueKind.RANK:
            d = r.decile if not pd.isna(r.decile) else aggregation.decile_from_rank(r.rank, ranked_areas(indicator))
            parts.append((a, float(d), f"decile {int(d)}"))
        elif not pd.isna(r.value):
            parts.append((a, float(r.value), fmt_value(float(r.value), indicator.unit)))
    if not parts:
        return None
    exact_sum = indicator.value_kind is ValueKind.COUNT and others.earlier and others.change is AreaChangeKind.MERGED
    if exact_sum:
        figure.value = sum(v for _, v, _ in parts)
        figure.display = fmt_value(figure.value, indicator.unit)
    else:
        figure.value = None  # several figures are not one: no colour, no comparison
        figure.display = "; ".join(f"{text} ({a.code})" for a, _, text in parts)
    return [(key, latest["period_start"].iloc[0], figure.value, False)], key


Point = tuple[str, date, float | None, bool]  # a series point: period key, start, value, withheld by the source


def area_figures(area: Area) -> list[Figure]:
    """Every indicator that has a value for ``area``, directly, through the LSOA 2011 → 2021 bridge (an LSOA's
    figure published on the other vintage), or rolled up from the LSOAs inside it (those of the indicator's own
    vintage). An earlier release of the same measure (same dataset and indicator keys) is not a row of its own:
    it is shown with the latest one (:class:`Earlier`)."""
    indicators = all_indicators()
    la = local_authority_of(area)
    direct_ids = [i.id for i in indicators if i.level is area.level]
    direct = values_frame([area.id], direct_ids)
    below = _LsoaValues.read(area, [i for i in indicators if _rolled_up_to(i, area)])
    figures = []
    for indicator in indicators:
        figure = Figure(indicator, indicator.dataset)
        if indicator.id in direct_ids:
            found = _own_figure(figure, direct[direct["indicator_id"] == indicator.id], area)
        elif indicator.id in below.indicator_ids:
            found = _rolled_up_figure(figure, area, below)
        else:
            continue
        if found is None:
            continue
        _finish(figure, area, la, *found)
        figures.append(figure)
    return with_earlier_releases(figures, area)


def _rolled_up_to(indicator: Indicator, area: Area) -> bool:
    """Whether ``indicator`` is shown for ``area`` rolled up from the LSOAs inside it."""
    return indicator.level is AreaLevel.LSOA and LEVEL_ORDER[indicator.level] < LEVEL_ORDER[area.level]


@dataclass
class _LsoaValues:
    """The values of the indicators rolled up to an area, read for all of them at once: the LSOAs inside the area
    (per vintage), the rows of ranks and short series, and long series summed or averaged by the database."""

    lsoas: dict[int | None, list[int]]  # vintage → the LSOAs inside the area
    indicator_ids: set[int]
    frames: dict[int, pd.DataFrame]  # indicator → its rows (ranks, and series over few LSOAs)
    sql_series: dict[int, list[tuple[str, date, aggregation.Rollup]]]  # indicator → its series (long series)

    @classmethod
    def read(cls, area: Area, below: list[Indicator]) -> _LsoaValues:
        # Ranks come in one or two releases: fetch their rows. Long monthly series are summed or averaged in SQL,
        # and only their latest period's rows are fetched (for the caveat): an authority has 268 LSOAs x 166 months.
        lsoas = {v: lsoa_ids_within(area, v) for v in {i.vintage for i in below}}
        row_ids = {i.id for i in below if i.value_kind is ValueKind.RANK or len(lsoas[i.vintage]) <= 40}
        frames: dict[int, pd.DataFrame] = {}
        sql_series: dict[int, list[tuple[str, date, aggregation.Rollup]]] = {}
        for vintage, ids in lsoas.items():
            wanted = [i.id for i in below if i.vintage == vintage and i.id in row_ids]
            frame = values_frame(ids, wanted)
            ids_below = frame["indicator_id"].to_numpy()
            frames.update({i: frame[ids_below == i] for i in wanted})  # masks: cheaper than groupby's
        for vintage, ids in lsoas.items():
            sql_series.update(_sql_series(ids, [i.id for i in below if i.vintage == vintage and i.id not in row_ids]))
        return cls(lsoas, {i.id for i in below}, frames, sql_series)


def _own_figure(figure: Figure, frame: pd.DataFrame, area: Area) -> tuple[list[Point], str] | None:
    """Fill ``figure`` from the area's own values (``frame``), or else through the LSOA 2011 → 2021 bridge; its
    series points and latest period, or None when neither has a value."""
    if not frame.empty:
        return _direct_figure(figure, frame, area)
    others = counterparts(area, figure.indicator.vintage)
    return bridged_figure(figure, area, others) if others else None


def _rolled_up_figure(figure: Figure, area: Area, below: _LsoaValues) -> tuple[list[Point], str] | None:
    """Fill ``figure`` from the LSOAs inside ``area``; its series points and latest period, or None without
    values."""
    indicator = figure.indicator
    kind = indicator.value_kind
    ids = below.lsoas[indicator.vintage]
    if indicator.id in below.sql_series:
        points = below.sql_series[indicator.id]
        if not points:
            return None
        latest = values_frame(ids, [indicator.id], period_key=points[-1][0])
        key, start, _ = points[-1]
        points[-1] = (key, start, aggregation.rollup(latest, kind.value, len(ids), ranked_areas(indicator)))
    else:
        frame = below.frames.get(indicator.id)
        if frame is None or frame.empty:
            return None
        points = _series(frame, kind, len(ids), ranked_areas(indicator))
        latest = frame[frame["period_key"] == points[-1][0]]
    key, _start, rollup = points[-1]
    figure.method = rollup.method
    figure.caveat = rollup.caveat
    if kind is ValueKind.RANK:
        figure.value = rollup.share_10
        figure.display = rank_display(rollup, area.level, None, None)
    else:
        figure.value = rollup.value
        figure.display = fmt_value(rollup.value, indicator.unit)
    if figure.value is None and all_withheld(latest):
        figure.display = WITHHELD
    series: list[Point] = [(k, s, r.value, False) for k, s, r in points]
    if series and figure.display == WITHHELD:
        series[-1] = (*series[-1][:3], True)
    figure.period = period_label(key)
    figure.period_end = latest["period_end"].max() if not latest.empty else None
    return series, key


def _finish(figure: Figure, area: Area, la: Area | None, series: list[Point], key: str) -> None:
    """What every figure carries whatever its source: the local authority beside it, its series and sparkline, and
    a word when its latest period is long past."""
    indicator = figure.indicator
    if la is not None and la.id != area.id:
        compare_with_la(figure, area, la, key)
    figure.series = [
        {
            "start": s.isoformat(),
            "period": period_label(k),
            "value": v,
            "display": WITHHELD if withheld else fmt_value(v, indicator.unit),
        }
        for k, s, v, withheld in series
    ]
    if len([p for p in figure.series if p["value"] is not None]) >= 2:
        first, last = figure.series[0]["period"], figure.series[-1]["period"]
        figure.sparkline = charts.sparkline(
            figure.series, f"Trend of {indicator.name} in {area.name} from {first} to {last}."
        )
    ended = figure.period_end
    if ended is not None and not pd.isna(ended) and date.today() - ended > STALE_AFTER:
        figure.stale = f"The latest figure in this release is for {figure.period}."


@dataclass
class WiderFigure:
    """An indicator published only for an area above this one (fuel poverty for the local authority)."""

    indicator: Indicator
    dataset: IndicatorDataset
    area: Area
    period: str
    display: str


def wider_only(area: Area) -> list[WiderFigure]:
    """Indicators that have no figure for ``area`` or the LSOAs inside it, only for its local authority: said on
    the page, with the authority's latest figure, so that a ward page does not look as if they did not exist."""
    la = local_authority_of(area)
    if la is None or la.id == area.id:
        return []
    out = []
    for indicator in all_indicators():
        if indicator.level is not AreaLevel.LAD:
            continue
        frame = values_frame([la.id], [indicator.id])
        if frame.empty:
            continue
        row = frame.sort_values("period_start").iloc[-1]
        value = None if pd.isna(row["value"]) else float(row["value"])
        display = WITHHELD if value is None and bool(row["suppressed"]) else fmt_value(value, indicator.unit)
        out.append(WiderFigure(indicator, indicator.dataset, la, period_label(row["period_key"]), display))
    return out
