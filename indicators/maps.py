"""The indicator maps: the areas a partnership's map shows, the indicators that can be drawn at a level, and a
layer of the latest values (rolled up from LSOAs, or through the LSOA 2011 → 2021 bridge) as a choropleth."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import select

from indicators import aggregation
from indicators.deprivation import deprivation_index
from indicators.figures import Figure, bridged_figure, counterparts
from indicators.models import Indicator, ValueKind
from indicators.releases import current_first
from indicators.values import (
    WITHHELD,
    all_indicators,
    fmt_value,
    latest_period_key,
    period_label,
    ranked_areas,
    values_frame,
)
from webapp import charts
from webapp.extensions import db
from webapp.hierarchy import LEVEL_ORDER, lsoa_ids_within_many, lsoas_under
from webapp.models import Area, AreaLevel, Partnership


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
    ids = {area.id for area in partnership.areas if area.level is level}
    above = [area for area in partnership.areas if LEVEL_ORDER[area.level] > LEVEL_ORDER[level]]
    if level is AreaLevel.LSOA:  # the LSOAs of all its wards and authorities, walked together
        for lsoas in lsoa_ids_within_many(above).values():
            ids.update(lsoas)
    else:
        ids.update(c.id for area in above for c in area.children)
    if not ids:
        return []
    stmt = select(Area).where(Area.id.in_(ids), Area.level == level, Area.current.is_(True)).order_by(Area.name)
    return list(db.session.scalars(stmt))


def map_indicators(level: AreaLevel) -> list[Indicator]:
    """The indicators a map (or an index) of ``level`` can show, latest releases first (:func:`current_first`)."""
    return current_first(
        [i for i in all_indicators() if LEVEL_ORDER[i.level] <= LEVEL_ORDER[level] and i.level is not AreaLevel.LAD]
    )


def default_map_indicator(indicators: list[Indicator]) -> Indicator | None:
    """The overall deprivation index when there is one (what most people look for), else the first."""
    return deprivation_index(indicators) or (indicators[0] if indicators else None)


BRIDGE_METHOD = (
    "{old} LSOA figures drawn on {new} LSOAs through the ONS LSOA 2011 → 2021 lookup: unchanged LSOAs as "
    "published; an LSOA split from an older one shows that one's figure; merged or redrawn LSOAs list their "
    "parts' figures (not coloured); counts of a split LSOA are not divided (not coloured)"
)


def map_layer(areas: list[Area], level: AreaLevel, indicator: Indicator) -> MapLayer:
    """The latest period of ``indicator`` for each of ``areas``, rolled up from LSOAs where needed (those of the
    indicator's vintage), or through the LSOA 2011 → 2021 bridge for LSOAs of another vintage."""

    geometry = {a.id: json.loads(a.boundary) if a.boundary else None for a in areas}
    kind = indicator.value_kind.value
    period_key = latest_period_key(indicator)
    values: dict[int, tuple[float | None, str]] = {}
    method = caveat = ""
    value_title = (
        indicator.name if not indicator.unit or indicator.unit == "rank" else f"{indicator.name} ({indicator.unit})"
    )
    polarity = indicator.polarity.value
    if indicator.level is level:
        frame = values_frame([a.id for a in areas], [indicator.id])
        frame = frame[frame["period_key"] == period_key]
        for row in frame.itertuples():
            values[row.area_id] = _map_value(indicator, row)
        bridged = [(a, others) for a in areas if a.id not in values and (others := counterparts(a, indicator.vintage))]
        for a, others in bridged:
            figure = Figure(indicator, indicator.dataset)
            if bridged_figure(figure, a, others) is not None:
                values[a.id] = (figure.value, figure.display)
        if bridged:
            new = max((y for a in areas for y in a.vintage_years), default="")
            method = BRIDGE_METHOD.format(old=indicator.vintage, new=new)
        if kind == "rank":
            value_title = f"{indicator.name}: decile (1 = most deprived 10%)"
    else:
        children = lsoas_under([a.id for a in areas], indicator.vintage)
        parents = pd.Series({child: parent for child, parent in children}, dtype="int64")
        frame = values_frame(list(parents.index), [indicator.id])
        frame = frame[frame["period_key"] == period_key].set_index("area_id")
        rolled = (
            aggregation.rollup_frame(frame[["value", "rank", "decile"]], parents, kind, ranked_areas(indicator))
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
                    values[int(area_id)] = (v, fmt_value(v, indicator.unit))
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
        f"{indicator.name}, {period_label(period_key)}" if period_key else indicator.name,
        value_title,
        period_label(period_key),
        rows,
        polarity,
        method,
        caveat,
    )


def _map_value(indicator: Indicator, row) -> tuple[float | None, str]:
    if indicator.value_kind is ValueKind.RANK:
        decile = (
            row.decile if not pd.isna(row.decile) else aggregation.decile_from_rank(row.rank, ranked_areas(indicator))
        )
        return float(decile), f"decile {int(decile)}"
    v = None if pd.isna(row.value) else float(row.value)
    return v, WITHHELD if v is None and row.suppressed else fmt_value(v, indicator.unit)
