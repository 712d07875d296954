"""An area's figure beside its local authority's: the authority's figure for the same period (rolled up from its
LSOAs where needed) and the tone of the area's figure in colour and in words."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd
from flask import has_request_context

from indicators import aggregation
from indicators.models import Indicator, Polarity, ValueKind
from indicators.values import all_indicators, fmt_value, rank_display, ranked_areas, values_frame
from webapp.hierarchy import LEVEL_ORDER, lsoa_ids_within, request_cache
from webapp.models import Area, AreaLevel

if TYPE_CHECKING:
    from indicators.figures import Figure


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


# The local authority's figures, kept across requests (an authority's LSOAs are many: reading and rolling them up
# is most of an area page's time). Keyed by everything a figure is computed from, so nothing stale is ever served:
# the dataset's import (a new import changes ``imported_at``), the period, and for a figure rolled up from LSOAs the
# LSOAs inside the authority (read per request, a query per level: a geography loaded since, in any process, gives
# another key). Bounded: emptied when it holds more than LA_CACHE_SIZE figures.
_LA_CACHE: dict[tuple[Any, ...], tuple[float | None, str]] = {}
LA_CACHE_SIZE = 2000


def _la_figure(indicator: Indicator, la: Area, period_key: str) -> tuple[float | None, str]:
    """The local authority's figure for an indicator and period (kept across requests: see ``_LA_CACHE``)."""
    direct = indicator.level is AreaLevel.LAD or indicator.level is la.level
    ids = [] if direct else lsoa_ids_within(la, indicator.vintage)
    key = (indicator.id, la.id, period_key, indicator.dataset.imported_at, tuple(sorted(ids)))
    if key in _LA_CACHE:
        return _LA_CACHE[key]
    if direct:
        frame = values_frame([la.id], [indicator.id])
        frame = frame[frame["period_key"] == period_key]
        value = None if frame.empty or pd.isna(frame["value"].iloc[0]) else float(frame["value"].iloc[0])
        result = (value, fmt_value(value, indicator.unit))
    else:
        frame = _la_lsoa_values(la, indicator, ids)
        frame = frame[frame["period_key"] == period_key]
        rollup = aggregation.rollup(frame, indicator.value_kind.value, len(ids), ranked_areas(indicator))
        if indicator.value_kind is ValueKind.RANK:
            result = (rollup.share_10, rank_display(rollup, la.level, None, None))
        else:
            result = (rollup.value, fmt_value(rollup.value, indicator.unit))
    if len(_LA_CACHE) > LA_CACHE_SIZE:
        _LA_CACHE.clear()
    _LA_CACHE[key] = result
    return result


def _la_lsoa_values(la: Area, indicator: Indicator, ids: list[int]) -> pd.DataFrame:
    """The values of ``indicator`` in the authority's LSOAs (``ids``, of the indicator's vintage). In a request, the
    first one asked reads those of every LSOA indicator of that vintage at once: a profile in an authority not yet
    cached asked once per indicator (eight queries for the IoD, one now); the same rows either way."""
    if not has_request_context():
        return values_frame(ids, [indicator.id])
    cache = request_cache("la_lsoa_values")
    key = (la.id, indicator.vintage)
    if key not in cache:
        same = [i.id for i in all_indicators() if i.level is AreaLevel.LSOA and i.vintage == indicator.vintage]
        cache[key] = (set(same), values_frame(ids, same))
    known, frame = cache[key]
    if indicator.id not in known:
        return values_frame(ids, [indicator.id])
    return frame[frame["indicator_id"] == indicator.id]


def compare_with_la(figure: Figure, area: Area, la: Area, key: str) -> None:
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
