"""The indicator context of a briefing (the same for every edition): the latest value of each official measure for
the focus, its trend, and each focus ward's share of LSOAs in the most deprived 20% (the evidence-gaps rule of
:func:`indicators.gaps.deprived_shares`). Computed once by the composer and handed to the indicators, gaps, grants
and provenance sections through the shared facts.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.orm import contains_eager

from convening.composer.focus import Focus, Geography
from indicators import aggregation, gaps
from indicators.deprivation import is_deprivation_index
from indicators.models import Indicator, IndicatorDataset, IndicatorValue, ValueKind
from indicators.values import ranked_areas
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
                       IndicatorValue.rank, IndicatorValue.value, IndicatorValue.suppressed,
                       IndicatorValue.period_key, IndicatorValue.period_start)
                .where(IndicatorValue.indicator_id.in_(ids), IndicatorValue.area_id.in_(areas))
                .order_by(IndicatorValue.id)
            ):  # fmt: skip
                values[v.indicator_id].append(v)
    # Every figure is rolled up by indicators.aggregation, as the area page rolls up a ward's LSOAs: a briefing's
    # figure for a ward is the figure on that ward's page.
    for ind in newest:
        ds = ind.dataset
        source = f"{ds.publisher or ds.title}, released {ds.release_label}, {ind.geography_label}"
        if ind.id in ranks:
            shares = _deprived_shares(ind, values[ind.id], lsoa_ward)
            if shares is None:
                continue
            period, share, per_ward = shares
            if is_deprivation_index(ind) or not deprived_share:
                deprived_share = per_ward
            results.append(
                {
                    "indicator": ind.name,
                    "value": f"{share:.0%} of LSOAs in the most deprived 20%",
                    "period": period,
                    "trend": "single release",
                    "source": source,
                    "sort": -share,
                }
            )
            _cite(sources, ds)
        else:
            # A rank above the LSOAs (none is published today) keeps the mean of its scores.
            kind = "score" if ind.value_kind is ValueKind.RANK else ind.value_kind.value
            points = [
                (key, figure.value)
                for key, _start, figure in aggregation.rollup_periods(
                    ((v.period_start, v.period_key, None if v.suppressed else v.value) for v in values[ind.id]),
                    kind,
                )
                if figure.value is not None
            ]
            if not points:
                continue
            latest, figure_now = points[-1]
            trend = "single period"
            if len(points) > 1:
                before, prev = points[-2]
                trend = "up" if figure_now > prev * 1.02 else "down" if figure_now < prev * 0.98 else "about the same"
                trend += f" since {before}"
            unit = f" {ind.unit}" if ind.unit and ind.unit not in ("%",) else ind.unit or ""
            results.append(
                {
                    "indicator": ind.name,
                    "value": f"{figure_now:,.1f}{unit}",
                    "period": latest,
                    "trend": trend,
                    "source": source,
                    "sort": 0,
                }
            )
            _cite(sources, ds)
    # Evidence gaps use the one rule of indicators.gaps (the area profiles and the city-wide list use it too):
    # the latest IMD's share of each ward's LSOAs in the most deprived 20%.
    return IndicatorContext(results[:MAX_MEASURES], gaps.deprived_shares(wards) or deprived_share, sources)


def _deprived_shares(
    ind: Indicator, rows: list, lsoa_ward: dict[int, int]
) -> tuple[str, float, dict[int, float]] | None:
    """A rank's latest period, the share of the focus wards' LSOAs in the most deprived 20% then, and each ward's
    share (:func:`indicators.aggregation.rollup_periods`, a decile derived from the rank where it is missing); None
    when no LSOA has a decile or rank."""
    ranked = ranked_areas(ind)

    def latest(of: list) -> tuple[str, aggregation.Rollup] | None:
        points = aggregation.rollup_periods(
            ((v.period_start, v.period_key, v.value, v.rank, v.decile) for v in of), "rank", None, ranked
        )
        return (points[-1][0], points[-1][2]) if points else None

    whole = latest(rows)
    share = whole[1].share_20 if whole is not None else None
    if whole is None or share is None:
        return None
    period = whole[0]
    in_period = [v for v in rows if v.period_key == period]
    per_ward: dict[int, float] = {}
    for ward in dict.fromkeys(lsoa_ward[v.area_id] for v in in_period):
        found = latest([v for v in in_period if lsoa_ward[v.area_id] == ward])
        if found is not None and found[1].share_20 is not None:
            per_ward[ward] = found[1].share_20
    return period, share, per_ward


def _cite(sources: list[dict], ds: IndicatorDataset) -> None:
    entry = {"title": ds.title, "publisher": ds.publisher, "licence": ds.licence, "release": ds.release_label}
    if entry not in sources:
        sources.append(entry)
