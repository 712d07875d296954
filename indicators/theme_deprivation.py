"""A theme against deprivation: where the observations of a theme sit among England's IMD deciles, and wards by the
share of their LSOAs in the most deprived 20%, every count released for the partnership."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

import pandas as pd
from sqlalchemy import select

from indicators import aggregation
from indicators.area_themes import theme_totals
from indicators.deprivation import latest_deprivation_index
from indicators.models import Indicator
from indicators.values import values_frame
from nlp.themes import queries as theme_queries
from webapp.disclosure import Released, State, Tally, release, release_groups, threshold
from webapp.extensions import db
from webapp.hierarchy import lsoa_ids_within_many
from webapp.models import Area, AreaLevel, Partnership

# A theme against deprivation -----------------------------------------------------------------------------------------


@dataclass
class DecileRow:
    decile: int
    observations: Released
    share_of_theme: float | None  # of the theme's observations placed in an LSOA (None when not all shown)
    share_of_lsoas: float | None  # of the partnership's LSOAs in this decile


@dataclass
class BandRow:
    label: str
    observations: Released
    share_of_theme: float | None
    share_of_wards: float | None


WARD_BANDS = (
    (0.5, "Half or more of its LSOAs"),
    (0.25, "A quarter to a half"),
    (1e-9, "Under a quarter"),
    (0.0, "None"),
)


@dataclass
class ThemeDeprivation:
    rows: list[DecileRow]
    placed: Released  # observations placed in an LSOA with a decile
    unplaced: Released  # placed at ward or wider level, or in an LSOA without a decile
    indicator: Indicator | None
    ward_rows: list[BandRow] = field(default_factory=list)  # by the ward's share of LSOAs in the most deprived 20%
    ward_placed: Released | None = None


def _band(share: float) -> str:
    return next(label for low, label in WARD_BANDS if share >= low)


def _shares(released: list[Released]) -> list[float | None]:
    """Each count's share of their sum, from released values, only when every one is shown as a number (a share
    beside a hidden count would give the count away)."""
    if any(r.suppressed for r in released):
        return [None] * len(released)
    total = sum(r.shown_value for r in released)
    return [r.shown_value / total if total else None for r in released]


def theme_by_deprivation(partnership: Partnership, theme_id: int, since: date | None = None) -> ThemeDeprivation:
    """Where a theme is reported, by the IMD decile of the LSOA the observations are placed in, beside how the
    partnership's LSOAs spread over the deciles, released for the partnership. Not a causal claim."""

    imd = latest_deprivation_index(AreaLevel.LSOA)
    by_area = theme_queries.area_counts(partnership, None, since).get(theme_id, {})
    lsoa_ids: set[int] = set()  # the LSOAs the IMD is on, of all the partnership's areas walked together
    for ids in lsoa_ids_within_many(list(partnership.areas), imd.vintage if imd else None).values():
        lsoa_ids.update(ids)
    deciles: dict[int, int] = {}
    if imd is not None:
        wanted = lsoa_ids | {a for a in by_area if a is not None}
        frame = values_frame(list(wanted), [imd.id])
        for row in frame.itertuples():
            d = (
                row.decile
                if not pd.isna(row.decile)
                else (aggregation.decile_from_rank(row.rank) if not pd.isna(row.rank) else None)
            )
            if d is not None:
                deciles[int(row.area_id)] = int(d)
    per_decile = {d: Tally() for d in range(1, 11)}
    unplaced = Tally()
    for area_id, n in by_area.items():
        d = deciles.get(area_id) if area_id is not None else None
        if d is None:
            unplaced = unplaced + n
        else:
            per_decile[d] = per_decile[d] + n
    placed = Tally.total(per_decile.values())
    theme_total = theme_totals(partnership).get((theme_id, None), Tally())
    everything = placed + unplaced
    lsoas_with = [deciles[a] for a in lsoa_ids if a in deciles]
    released = release_groups(per_decile.values(), [placed, everything, theme_total])
    rows = [
        DecileRow(
            d,
            count,
            share,
            (sum(1 for x in lsoas_with if x == d) / len(lsoas_with)) if lsoas_with else None,
        )
        for (d, _), count, share in zip(per_decile.items(), released, _shares(released), strict=True)
    ]
    # Observations are often placed at ward level: wards by the share of their LSOAs in England's most deprived 20%.
    ward_of = dict(
        db.session.execute(select(Area.id, Area.parent_id).where(Area.id.in_(lsoa_ids), Area.level == AreaLevel.LSOA))
        .tuples()
        .all()
    )
    ward_deciles: dict[int, list[int]] = defaultdict(list)
    for lsoa_id, ward_id in ward_of.items():
        if lsoa_id in deciles and ward_id is not None:
            ward_deciles[ward_id].append(deciles[lsoa_id])
    ward_band = {w: _band(sum(1 for d in ds if d <= 2) / len(ds)) for w, ds in ward_deciles.items()}
    band_counts = {label: Tally() for _, label in WARD_BANDS}
    for area_id, n in by_area.items():
        ward_id = area_id if area_id in ward_band else ward_of.get(area_id) if area_id is not None else None
        if ward_id is not None and ward_id in ward_band:
            band_counts[ward_band[ward_id]] = band_counts[ward_band[ward_id]] + n
    in_wards = Tally.total(band_counts.values())
    band_released = release_groups(band_counts.values(), [in_wards, everything, theme_total])
    ward_rows = [
        BandRow(
            label,
            count,
            share,
            sum(1 for b in ward_band.values() if b == label) / len(ward_band) if ward_band else None,
        )
        for label, count, share in zip(band_counts, band_released, _shares(band_released), strict=True)
    ]
    # Placed and not placed by decile split the theme in two groups; the observations counted by ward are the
    # bands' total (every band 0 or at least k when the bands are shown, so it is too).
    placed_released, unplaced_released = release_groups([placed, unplaced], [everything, theme_total])
    in_wards_released = (
        release(in_wards, [everything, theme_total])
        if any(not r.withheld for r in band_released)
        else Released(State.WITHHELD, None, threshold())
    )
    return ThemeDeprivation(rows, placed_released, unplaced_released, imd, ward_rows, in_wards_released)
