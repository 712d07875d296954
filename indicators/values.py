"""The stored values of official indicators as the area pages read them: a frame of values for areas and
indicators, the latest period of an indicator (cached per import), every indicator stored, and a value, period or
rank in words."""

from __future__ import annotations

import calendar
from datetime import date

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from indicators import aggregation
from indicators.models import Indicator, IndicatorDataset, IndicatorValue
from webapp.extensions import db
from webapp.models import AreaLevel

WITHHELD = "withheld by the source"


def all_withheld(frame: pd.DataFrame) -> bool:
    """Every value in ``frame`` was withheld by the source (a marker such as "c" or ".." where a number would be)."""
    return not frame.empty and bool(frame["suppressed"].astype(bool).all())


def fmt_value(value: float | None, unit: str) -> str:
    if value is None:
        return "no value"
    text = f"{value:,.0f}" if float(value).is_integer() and abs(value) >= 10 else f"{value:,.1f}"
    if unit in ("%", "percent"):
        return f"{text}%"
    return f"{text} {unit}".strip() if unit and unit not in ("count", "rank") else text


def ranked_areas(indicator: Indicator) -> int:
    return indicator.ranked_areas or aggregation.IOD2019_LSOAS


def rank_display(
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


VALUE_COLUMNS = [
    "indicator_id", "area_id", "period_key", "period_start", "value", "rank", "decile", "suppressed", "note",
    "lower", "upper", "period_end",
]  # fmt: skip


def values_frame(area_ids: list[int], indicator_ids: list[int], period_key: str | None = None) -> pd.DataFrame:
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


def latest_period_key(indicator: Indicator) -> str:
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


def period_label(key: str) -> str:
    if key.startswith(("FY", "AY")):
        return f"{key[2:]} ({'financial' if key.startswith('FY') else 'academic'} year)"
    if len(key) == 7 and key[4] == "-" and key[5:].isdigit():
        return f"{calendar.month_abbr[int(key[5:])]} {key[:4]}"
    if len(key) == 9 and key[4] == "-":
        return f"{key[:4]}–{key[5:]}"
    return key.replace("-Q", " Q")
