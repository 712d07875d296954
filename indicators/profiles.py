"""What the area pages show of official indicators: figures per area (direct or rolled up from LSOAs) and map
values. Read-only queries; views render what these return. What the pages show of observations (community counts,
themes, flags) is in :mod:`indicators.community`, released through :mod:`webapp.disclosure`.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from indicators import aggregation
from indicators.models import Indicator, IndicatorDataset, IndicatorValue, Polarity, ValueKind
from webapp import charts
from webapp.extensions import db
from webapp.models import Area, AreaChange, AreaChangeKind, AreaLevel, AreaVintage, Partnership

log = logging.getLogger(__name__)

LEVEL_ORDER = {AreaLevel.LSOA: 0, AreaLevel.WARD: 1, AreaLevel.LAD: 2, AreaLevel.CUSTOM: 3}


# Geography helpers -------------------------------------------------------------------------------------------------


def local_authority_of(area: Area) -> Area | None:
    current: Area | None = area
    while current is not None and current.level is not AreaLevel.LAD:
        current = current.parent
    return current


def lsoa_ids_within(area: Area, vintage: int | None = None) -> list[int]:
    """The LSOAs inside ``area`` (itself for an LSOA), through the parent links of the geography: the current
    ones, or with ``vintage`` those of that vintage (an LSOA 2011 that was split in 2021 is inside the current
    ward it was placed in). Asked once per request and vintage."""
    if area.level is AreaLevel.LSOA:
        return [area.id]
    cache = _request_cache("_lsoa_ids_within")
    if (area.id, vintage) not in cache:
        cache[(area.id, vintage)] = _lsoa_ids_within(area, vintage)
    return cache[(area.id, vintage)]


def _lsoa_ids_within(area: Area, vintage: int | None) -> list[int]:
    found: list[tuple[int, bool]] = []
    frontier = [area.id]
    for _ in range(3):
        rows = db.session.execute(select(Area.id, Area.level, Area.current).where(Area.parent_id.in_(frontier))).all()
        found += [(i, current) for i, level, current in rows if level is AreaLevel.LSOA]
        frontier = [i for i, level, _current in rows if level is not AreaLevel.LSOA]
        if not frontier:
            break
    if vintage is None:
        return [i for i, current in found if current]
    ids = [i for i, _ in found]
    if not ids:
        return []
    of_vintage = set(
        db.session.scalars(select(AreaVintage.area_id).where(AreaVintage.area_id.in_(ids), AreaVintage.year == vintage))
    )
    return [i for i in ids if i in of_vintage]


def lsoa_ids_within_many(areas: list[Area], vintage: int | None = None) -> dict[int, list[int]]:
    """:func:`lsoa_ids_within` for many areas at once: ``{area id: LSOA ids}`` with a query per level of the
    geography (three at most) and one for the vintage, whatever the number of areas."""
    cache = _request_cache("_lsoa_ids_within")
    out = {a.id: [a.id] for a in areas if a.level is AreaLevel.LSOA}
    out |= {a.id: cache[(a.id, vintage)] for a in areas if (a.id, vintage) in cache and a.id not in out}
    todo = list(dict.fromkeys(a.id for a in areas if a.id not in out))
    if not todo:
        return {a.id: out[a.id] for a in areas}
    found: dict[int, list[tuple[int, bool]]] = {i: [] for i in todo}
    frontier = {i: i for i in todo}  # area to look under → the area asked about
    for _ in range(3):
        rows = db.session.execute(
            select(Area.id, Area.level, Area.current, Area.parent_id).where(Area.parent_id.in_(list(frontier)))
        ).all()
        next_frontier = {}
        for i, level, current, parent in rows:
            if level is AreaLevel.LSOA:
                found[frontier[parent]].append((i, current))
            else:
                next_frontier[i] = frontier[parent]
        frontier = next_frontier
        if not frontier:
            break
    if vintage is None:
        result = {a: [i for i, current in ids if current] for a, ids in found.items()}
    else:
        every = [i for ids in found.values() for i, _ in ids]
        of_vintage = set(
            db.session.scalars(
                select(AreaVintage.area_id).where(AreaVintage.area_id.in_(every), AreaVintage.year == vintage)
            )
        ) if every else set()  # fmt: skip
        result = {a: [i for i, _ in ids if i in of_vintage] for a, ids in found.items()}
    for a, ids in result.items():
        cache[(a, vintage)] = ids
    out |= result
    return {a.id: out[a.id] for a in areas}  # in the order asked


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


def area_ids_within_many(areas: list[Area]) -> list[list[int]]:
    """:func:`area_ids_within` of each of ``areas`` (the same ids), with one query per level of the geography for
    all of them: an area page asks for the area and every area above it, six queries one by one, three together."""
    cache = _request_cache("_area_ids_within")
    todo = list(dict.fromkeys(a.id for a in areas if a.id not in cache))
    found: dict[int, list[int]] = {root: [root] for root in todo}
    frontier: dict[int, list[int]] = {root: [root] for root in todo}
    for _ in range(3):
        wanted = sorted({i for ids in frontier.values() for i in ids})
        if not wanted:
            break
        children: dict[int, list[int]] = defaultdict(list)
        for child, parent in db.session.execute(select(Area.id, Area.parent_id).where(Area.parent_id.in_(wanted))):
            children[parent].append(child)
        frontier = {root: [c for i in ids for c in children.get(i, ())] for root, ids in frontier.items()}
        for root, ids in frontier.items():
            found[root] += ids
    cache.update(found)
    return [cache[a.id] if a.id in cache else found[a.id] for a in areas]


def _area_ids_within(area: Area) -> list[int]:
    ids, frontier = [area.id], [area.id]
    for _ in range(3):
        frontier = list(db.session.scalars(select(Area.id).where(Area.parent_id.in_(frontier))))
        if not frontier:
            break
        ids += frontier
    return ids


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


# Indicator figures -------------------------------------------------------------------------------------------------


@dataclass
class Earlier:
    """An earlier release of the same measure (same dataset and indicator key), shown beside the current one."""

    dataset: IndicatorDataset
    indicator: Indicator
    period: str
    display: str
    comparison: str = ""  # "more deprived relative to England than in 2019" ...
    bridge_note: str = ""


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


WITHHELD = "withheld by the source"
STALE_AFTER = timedelta(days=2 * 365)
# Shown once on a page where a deprivation figure sits beside its earlier release.
IOD_CAVEAT = (
    "Ranks and deciles are relative: a change between releases means the area moved among England's "
    "neighbourhoods, not that deprivation rose or fell by that much. IoD2025 uses new data, methods and 2021 LSOAs, "
    "so MHCLG advises that comparisons with IoD2019 are indicative."
)


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


def _ranked(indicator: Indicator) -> int:
    return indicator.ranked_areas or aggregation.IOD2019_LSOAS


def _rank_display(
    rollup: aggregation.Rollup,
    level: AreaLevel,
    decile: float | None,
    rank: float | None,
    ranked: int | None = None,
    score: float | None = None,
) -> str:
    if level is AreaLevel.LSOA:
        if decile is None:
            return "no value"
        of = f" of {ranked:,}" if ranked else ""
        rank_text = f", rank {int(rank):,}{of}" if rank is not None else ""
        score_text = f", score {score:,.1f}" if score is not None and abs(score) >= 10 else ""
        if score is not None and abs(score) < 10:  # domain scores are rates (0.063) or z-like (-1.771)
            score_text = f", score {score:.3f}".rstrip("0").rstrip(".")
        return f"decile {int(decile)}{rank_text}{score_text}"
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
    "lower", "upper", "period_end",
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
        IndicatorValue.lower,
        IndicatorValue.upper,
        IndicatorValue.period_end,
    ).where(IndicatorValue.indicator_id.in_(indicator_ids))
    if period_key is not None:
        stmt = stmt.where(IndicatorValue.period_key == period_key)
    # Long IN lists are slow to plan; above a few hundred areas filter by parent in Python instead.
    if len(area_ids) <= 1000:
        stmt = stmt.where(IndicatorValue.area_id.in_(area_ids))
    # Plain tuples: pandas probes each SQLAlchemy Row for attributes it lacks (~4x slower for 2,000 rows).
    frame = pd.DataFrame([tuple(row) for row in db.session.execute(stmt)], columns=VALUE_COLUMNS)
    if len(area_ids) > 1000:
        frame = frame[frame["area_id"].isin(set(area_ids))]
    for column in ("value", "rank", "decile", "lower", "upper"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return frame


def _series(
    frame: pd.DataFrame, kind: ValueKind, n_areas: int, ranked: int = aggregation.IOD2019_LSOAS
) -> list[tuple[str, date, aggregation.Rollup]]:
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
            (key, start, aggregation.rollup_rows(rows, kind.value, n_areas, ranked))
            for (start, key), rows in sorted(groups.items())
        ]
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
        ids = lsoa_ids_within(la, indicator.vintage)
        frame = _la_lsoa_values(la, indicator, ids)
        frame = frame[frame["period_key"] == period_key]
        rollup = aggregation.rollup(frame, indicator.value_kind.value, len(ids), _ranked(indicator))
        if indicator.value_kind is ValueKind.RANK:
            result = (rollup.share_10, _rank_display(rollup, la.level, None, None))
        else:
            result = (rollup.value, _fmt(rollup.value, indicator.unit))
    if len(_LA_CACHE) > 2000:
        _LA_CACHE.clear()
    _LA_CACHE[key] = result
    return result


def _la_lsoa_values(la: Area, indicator: Indicator, ids: list[int]) -> pd.DataFrame:
    """The values of ``indicator`` in the authority's LSOAs (``ids``, of the indicator's vintage). In a request, the
    first one asked reads those of every LSOA indicator of that vintage at once: a profile in an authority not yet
    cached asked once per indicator (eight queries for the IoD, one now); the same rows either way."""
    from flask import has_request_context

    if not has_request_context():
        return _values_frame(ids, [indicator.id])
    cache = _request_cache("_la_lsoa_values")
    key = (la.id, indicator.vintage)
    if key not in cache:
        same = [i.id for i in all_indicators() if i.level is AreaLevel.LSOA and i.vintage == indicator.vintage]
        cache[key] = (set(same), _values_frame(ids, same))
    known, frame = cache[key]
    if indicator.id not in known:
        return _values_frame(ids, [indicator.id])
    return frame[frame["indicator_id"] == indicator.id]


_LATEST_CACHE: dict[tuple, tuple[str, date | None]] = {}


def _latest_period(indicator: Indicator) -> tuple[str, date | None]:
    """The key and start of the indicator's latest period (("", None) with no values), cached per import (a new
    import changes the dataset's ``imported_at``, so the key): finding it reads all the indicator's values (35,000 for
    an England LSOA file, 12-18 ms; an index for it slowed the file's import), and the area pages and the
    evidence-gap rule ask it on every request."""
    key = (indicator.id, indicator.dataset.imported_at)
    if key not in _LATEST_CACHE:
        latest = db.session.execute(
            select(IndicatorValue.period_key, IndicatorValue.period_start)
            .where(IndicatorValue.indicator_id == indicator.id)
            .order_by(IndicatorValue.period_start.desc())
            .limit(1)
        ).first()
        if len(_LATEST_CACHE) > 2000:
            _LATEST_CACHE.clear()
        _LATEST_CACHE[key] = (latest[0], latest[1]) if latest else ("", None)
    return _LATEST_CACHE[key]


def _latest_period_key(indicator: Indicator) -> str:
    """The key of the indicator's latest period ("" with no values)."""
    return _latest_period(indicator)[0]


def latest_period_start(indicator: Indicator) -> date | None:
    """The start of the indicator's latest period (None with no values)."""
    return _latest_period(indicator)[1]


def all_indicators() -> list[Indicator]:
    return list(
        db.session.scalars(
            select(Indicator)
            .options(joinedload(Indicator.dataset))
            .join(IndicatorDataset)
            .order_by(IndicatorDataset.title, Indicator.position)
        ).unique()
    )


def _interval(row: pd.Series, unit: str) -> str:
    if pd.isna(row.get("lower")) or pd.isna(row.get("upper")):
        return ""
    return f"95% confidence interval {_fmt(float(row['lower']), unit)} to {_fmt(float(row['upper']), unit)}"


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
            decile = aggregation.decile_from_rank(rank, _ranked(indicator))
        figure.value = decile
        score = None if pd.isna(row["value"]) else float(row["value"])
        figure.display = _rank_display(rollup, area.level, decile, rank, indicator.ranked_areas, score)
    else:
        figure.display = _fmt(rollup.value, indicator.unit)
        figure.interval = _interval(row, indicator.unit)
    if figure.value is None and bool(row["suppressed"]):
        figure.display = WITHHELD
    figure.source_note = str(row["note"] or "")
    figure.period = _period_label(key)
    figure.period_end = row["period_end"]
    return [(k, s, r.value, r.value is None and bool(x["suppressed"])) for k, s, r, x in points], key


def _bridged_figure(figure: Figure, area: Area, others: Counterparts) -> tuple[list, str] | None:
    """Fill ``figure`` for an LSOA from the areas of the indicator's vintage that stand for it (see
    :class:`Counterparts`); returns its series points and latest period, or None when they have no value.

    One counterpart: its figure, with a note naming it (a count of a 2011 LSOA that was split is not divided: it
    is shown as that LSOA's count, without a colour). Several: their figures listed (the sum for counts of LSOAs
    merged into this one, which add up exactly)."""
    indicator = figure.indicator
    frame = _values_frame([a.id for a in others.areas], [indicator.id])
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
    figure.period = _period_label(key)
    figure.period_end = latest["period_end"].iloc[0]
    by_area = {int(r.area_id): r for r in latest.itertuples()}
    parts = []
    for a in others.areas:
        r = by_area.get(a.id)
        if r is None:
            continue
        if indicator.value_kind is ValueKind.RANK:
            d = r.decile if not pd.isna(r.decile) else aggregation.decile_from_rank(r.rank, _ranked(indicator))
            parts.append((a, float(d), f"decile {int(d)}"))
        elif not pd.isna(r.value):
            parts.append((a, float(r.value), _fmt(float(r.value), indicator.unit)))
    if not parts:
        return None
    exact_sum = indicator.value_kind is ValueKind.COUNT and others.earlier and others.change is AreaChangeKind.MERGED
    if exact_sum:
        figure.value = sum(v for _, v, _ in parts)
        figure.display = _fmt(figure.value, indicator.unit)
    else:
        figure.value = None  # several figures are not one: no colour, no comparison
        figure.display = "; ".join(f"{text} ({a.code})" for a, _, text in parts)
    return [(key, latest["period_start"].iloc[0], figure.value, False)], key


def area_figures(area: Area) -> list[Figure]:
    """Every indicator that has a value for ``area``, directly, through the LSOA 2011 → 2021 bridge (an LSOA's
    figure published on the other vintage), or rolled up from the LSOAs inside it (those of the indicator's own
    vintage). An earlier release of the same measure (same dataset and indicator keys) is not a row of its own:
    it is shown with the latest one (:class:`Earlier`)."""
    indicators = all_indicators()
    la = local_authority_of(area)
    direct_ids = [i.id for i in indicators if i.level is area.level]
    below = [i for i in indicators if LEVEL_ORDER[i.level] < LEVEL_ORDER[area.level] and i.level is AreaLevel.LSOA]
    direct = _values_frame([area.id], direct_ids)
    # Ranks come in one or two releases: fetch their rows. Long monthly series are summed or averaged in SQL, and
    # only their latest period's rows are fetched (for the caveat): an authority has 268 LSOAs x 166 months.
    lsoas = {v: lsoa_ids_within(area, v) for v in {i.vintage for i in below}}
    row_ids = [i.id for i in below if i.value_kind is ValueKind.RANK or len(lsoas[i.vintage]) <= 40]
    below_by_indicator: dict[int, pd.DataFrame] = {}
    for vintage, ids in lsoas.items():
        wanted = [i.id for i in below if i.vintage == vintage and i.id in row_ids]
        frame = _values_frame(ids, wanted)
        ids_below = frame["indicator_id"].to_numpy()
        below_by_indicator.update({i: frame[ids_below == i] for i in wanted})  # masks: cheaper than groupby's
    sql_series: dict[int, list] = {}
    for vintage, ids in lsoas.items():
        sql_series.update(_sql_series(ids, [i.id for i in below if i.vintage == vintage and i.id not in row_ids]))
    figures = []
    for indicator in indicators:
        figure = Figure(indicator, indicator.dataset)
        kind = indicator.value_kind
        if indicator.id in direct_ids:
            frame = direct[direct["indicator_id"] == indicator.id]
            if not frame.empty:
                series, key = _direct_figure(figure, frame, area)
            else:
                others = counterparts(area, indicator.vintage)
                found = _bridged_figure(figure, area, others) if others else None
                if found is None:
                    continue
                series, key = found
        elif indicator.id in {i.id for i in below}:
            ids = lsoas[indicator.vintage]
            if indicator.id in sql_series:
                points3 = sql_series[indicator.id]
                if not points3:
                    continue
                latest = _values_frame(ids, [indicator.id], period_key=points3[-1][0])
                key, start, _ = points3[-1]
                points3[-1] = (key, start, aggregation.rollup(latest, kind.value, len(ids), _ranked(indicator)))
            else:
                frame = below_by_indicator.get(indicator.id)
                if frame is None or frame.empty:
                    continue
                points3 = _series(frame, kind, len(ids), _ranked(indicator))
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
            figure.period = _period_label(key)
            figure.period_end = latest["period_end"].max() if not latest.empty else None
        else:
            continue
        if la is not None and la.id != area.id:
            _compare_with_la(figure, area, la, key)
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
        ended = figure.period_end
        if ended is not None and not pd.isna(ended) and date.today() - ended > STALE_AFTER:
            figure.stale = f"The latest figure in this release is for {figure.period}."
        figures.append(figure)
    return _with_earlier_releases(figures, area)


def _compare_with_la(figure: Figure, area: Area, la: Area, key: str) -> None:
    """The local authority's figure for the same period, and the tone of the area's figure beside it."""
    indicator, kind = figure.indicator, figure.indicator.value_kind
    if LEVEL_ORDER[indicator.level] > LEVEL_ORDER[AreaLevel.LAD]:
        return
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
            tone, figure.comparison = _tone(Indicator(polarity=Polarity.HIGHER_IS_WORSE), figure.value, la_value)
            figure.tone = tone
            figure.verdict = _verdict(tone)
    elif kind is not ValueKind.COUNT:  # a sum over a ward is not comparable with the authority's sum
        figure.tone, figure.comparison = _tone(indicator, figure.value, la_value)
        figure.verdict = _verdict(figure.tone)


def _with_earlier_releases(figures: list[Figure], area: Area) -> list[Figure]:
    """Keep the latest release of each keyed measure; attach the earlier ones to it, compared in words."""
    groups: dict[tuple[str, str], list[Figure]] = defaultdict(list)
    for f in figures:
        if f.dataset.key and f.indicator.key:
            groups[(f.dataset.key, f.indicator.key)].append(f)
    dropped: set[int] = set()
    for group in groups.values():
        if len(group) < 2:
            continue
        group.sort(key=lambda f: (f.dataset.release_date or date.min, f.dataset.id), reverse=True)
        latest = group[0]
        for older in group[1:]:
            dropped.add(id(older))
            latest.earlier.append(
                Earlier(
                    older.dataset,
                    older.indicator,
                    older.period,
                    older.display,
                    _compare_releases(latest, older, area),
                    older.bridge_note,
                )
            )
    return [f for f in figures if id(f) not in dropped]


def _year(dataset: IndicatorDataset) -> str:
    return str(dataset.release_date.year) if dataset.release_date else dataset.title


def _compare_releases(latest: Figure, older: Figure, area: Area) -> str:
    if latest.value is None or older.value is None:
        return ""
    then = _year(older.dataset)
    if latest.indicator.value_kind is not ValueKind.RANK:
        return ""
    if area.level is AreaLevel.LSOA:  # deciles: 1 is the most deprived
        if latest.value == older.value:
            return f"in the same decile as in {then}"
        more = latest.value < older.value
        return (
            f"{'more' if more else 'less'} deprived relative to England than in {then} "
            f"(decile {int(older.value)} then, {int(latest.value)} now)"
        )
    if abs(latest.value - older.value) < 0.005:
        return f"the same share of its LSOAs among England's most deprived 10% as in {then}"
    more = latest.value > older.value
    return (
        f"{'a larger' if more else 'a smaller'} share of its LSOAs among England's most deprived 10% than in "
        f"{then} ({older.value:.0%} then, {latest.value:.0%} now): {'more' if more else 'less'} deprived relative to "
        "England"
    )


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
        frame = _values_frame([la.id], [indicator.id])
        if frame.empty:
            continue
        row = frame.sort_values("period_start").iloc[-1]
        value = None if pd.isna(row["value"]) else float(row["value"])
        display = WITHHELD if value is None and bool(row["suppressed"]) else _fmt(value, indicator.unit)
        out.append(WiderFigure(indicator, indicator.dataset, la, _period_label(row["period_key"]), display))
    return out


def _period_label(key: str) -> str:
    if key.startswith(("FY", "AY")):
        return f"{key[2:]} ({'financial' if key.startswith('FY') else 'academic'} year)"
    if len(key) == 7 and key[4] == "-" and key[5:].isdigit():
        import calendar

        return f"{calendar.month_abbr[int(key[5:])]} {key[:4]}"
    if len(key) == 9 and key[4] == "-":
        return f"{key[:4]}–{key[5:]}"
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

    @property
    def release(self) -> str:
        """Publisher, release date, geography vintage and period, as the map's caption shows them."""
        if self.indicator is None:
            return ""
        ds = self.indicator.dataset
        parts = [ds.title, ds.publisher, f"released {ds.release_label}"]
        parts.append(f"published on {self.indicator.geography_label}")
        if self.period:
            parts.append(f"period {self.period}")
        return "; ".join(p for p in parts if p)


def map_areas(partnership: Partnership | None, level: AreaLevel) -> list[Area]:
    """The partnership's current areas at ``level`` (its wards, or the LSOAs inside them); without one, every
    current area of that level."""
    if partnership is None or not partnership.areas:  # no partnership, or one without areas yet: every area
        return list(
            db.session.scalars(select(Area).where(Area.level == level, Area.current.is_(True)).order_by(Area.name))
        )
    ids: set[int] = set()
    for area in partnership.areas:
        if area.level is level:
            ids.add(area.id)
        elif LEVEL_ORDER[area.level] > LEVEL_ORDER[level]:
            ids.update(lsoa_ids_within(area) if level is AreaLevel.LSOA else [c.id for c in area.children])
    if not ids:
        return []
    stmt = select(Area).where(Area.id.in_(ids), Area.level == level, Area.current.is_(True)).order_by(Area.name)
    return list(db.session.scalars(stmt))


def map_indicators(level: AreaLevel) -> list[Indicator]:
    return [i for i in all_indicators() if LEVEL_ORDER[i.level] <= LEVEL_ORDER[level] and i.level is not AreaLevel.LAD]


def deprivation_index(indicators: list[Indicator]) -> Indicator | None:
    """The overall Index of Multiple Deprivation of the latest IoD release among ``indicators``, found by its
    keys (dataset "iod", indicator "imd"), never by words in its name."""
    imds = [i for i in indicators if i.dataset.key == "iod" and i.key == "imd"]
    return max(imds, key=lambda i: (i.dataset.release_date or date.min, i.id), default=None)


def default_map_indicator(indicators: list[Indicator]) -> Indicator | None:
    """The overall deprivation index when there is one (what most people look for), else the first."""
    return deprivation_index(indicators) or (indicators[0] if indicators else None)


def _children_of_vintage(parent_ids: list[int], vintage: int | None) -> list[tuple[int, int]]:
    """(LSOA, parent) for the LSOAs under ``parent_ids``: current ones, or those of ``vintage``."""
    stmt = select(Area.id, Area.parent_id).where(Area.parent_id.in_(parent_ids), Area.level == AreaLevel.LSOA)
    if vintage is None:
        stmt = stmt.where(Area.current.is_(True))
    else:
        stmt = stmt.join(AreaVintage, AreaVintage.area_id == Area.id).where(AreaVintage.year == vintage)
    return list(db.session.execute(stmt).all())


BRIDGE_METHOD = (
    "{old} LSOA figures drawn on {new} LSOAs through the ONS LSOA 2011 → 2021 lookup: unchanged LSOAs as "
    "published; an LSOA split from an older one shows that one's figure; merged or redrawn LSOAs list their "
    "parts' figures (not coloured); counts of a split LSOA are not divided (not coloured)"
)


def map_layer(areas: list[Area], level: AreaLevel, indicator: Indicator) -> MapLayer:
    """The latest period of ``indicator`` for each of ``areas``, rolled up from LSOAs where needed (those of the
    indicator's vintage), or through the LSOA 2011 → 2021 bridge for LSOAs of another vintage."""
    import json

    geometry = {a.id: json.loads(a.boundary) if a.boundary else None for a in areas}
    kind = indicator.value_kind.value
    period_key = _latest_period_key(indicator)
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
            values[row.area_id] = _map_value(indicator, row)
        bridged = [(a, others) for a in areas if a.id not in values and (others := counterparts(a, indicator.vintage))]
        for a, others in bridged:
            figure = Figure(indicator, indicator.dataset)
            if _bridged_figure(figure, a, others) is not None:
                values[a.id] = (figure.value, figure.display)
        if bridged:
            new = max((y for a in areas for y in a.vintage_years), default="")
            method = BRIDGE_METHOD.format(old=indicator.vintage, new=new)
        if kind == "rank":
            value_title = f"{indicator.name}: decile (1 = most deprived 10%)"
    else:
        children = _children_of_vintage([a.id for a in areas], indicator.vintage)
        parents = pd.Series({child: parent for child, parent in children}, dtype="int64")
        frame = _values_frame(list(parents.index), [indicator.id])
        frame = frame[frame["period_key"] == period_key].set_index("area_id")
        rolled = (
            aggregation.rollup_frame(frame[["value", "rank", "decile"]], parents, kind, _ranked(indicator))
            if len(parents)
            else None
        )
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
        if indicator.vintage:
            method = f"{method}, from the LSOAs ({indicator.vintage}) placed in each current ward"
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


def _map_value(indicator: Indicator, row) -> tuple[float | None, str]:
    if indicator.value_kind is ValueKind.RANK:
        decile = row.decile if not pd.isna(row.decile) else aggregation.decile_from_rank(row.rank, _ranked(indicator))
        return float(decile), f"decile {int(decile)}"
    v = None if pd.isna(row.value) else float(row.value)
    return v, WITHHELD if v is None and row.suppressed else _fmt(v, indicator.unit)
