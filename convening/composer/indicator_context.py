"""The indicator context of a briefing (the same for every edition): the latest value of each official measure for
the focus, its trend, and each focus ward's share of LSOAs in the most deprived 20% (the evidence-gaps rule of
:func:`indicators.gaps.deprived_shares`). Computed once by the composer and handed to the indicators, gaps, grants
and provenance sections through the shared facts.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from sqlalchemy import exists, select
from sqlalchemy.orm import contains_eager

from convening.composer.focus import Focus, Geography
from indicators import gaps
from indicators.deprivation import is_deprivation_index
from indicators.models import Indicator, IndicatorDataset, IndicatorValue, ValueKind
from webapp.extensions import db
from webapp.models import Area, AreaLevel, Partnership

MAX_MEASURES = 14  # measures listed in the indicators section, newest release first


@dataclass(frozen=True)
class IndicatorContext:
    """What the composer stores of the indicators: one row per measure (as the section shows it), each focus ward's
    deprived share (``{ward id: share}``; empty without deprivation data) and the datasets cited."""

    rows: list[dict]
    deprived_shares: dict[int, float]
    sources: list[dict]


def indicator_context(partnership: Partnership, focus: Focus, geo: Geography, wards: list[Area]) -> IndicatorContext:
    """The latest value of each measure for the focus, and each focus ward's share of LSOAs in the most deprived
    20%."""
    sources: list[dict] = []
    ward_ids = {w.id for w in wards}
    lsoa_ward = geo.lsoas_in(ward_ids)
    in_focus_ids = ward_ids | focus.area_ids
    if not focus.area_ids:
        in_focus_ids |= {a.id for a in partnership.areas}
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
            _cite(sources, ds)
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
            _cite(sources, ds)
    # Evidence gaps use the one rule of indicators.gaps (the area profiles and the city-wide list use it too):
    # the latest IMD's share of each ward's LSOAs in the most deprived 20%.
    return IndicatorContext(results[:MAX_MEASURES], gaps.deprived_shares(wards) or deprived_share, sources)


def _cite(sources: list[dict], ds: IndicatorDataset) -> None:
    entry = {"title": ds.title, "publisher": ds.publisher, "licence": ds.licence, "release": ds.release_label}
    if entry not in sources:
        sources.append(entry)
