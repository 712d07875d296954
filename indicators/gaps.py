"""Evidence gaps: one rule for area profiles, the city-wide list and the briefing.

Before, the profile flagged a ward with at least half its LSOAs in the most deprived 10% and no observations, and
the briefing listed wards with at least 30% in the most deprived 20% and fewer than k: in the demo the profiles
flagged 0 of 34 wards while the briefing listed four. Now every page asks :func:`is_gap`:

- **deprived**: an LSOA in IMD decile 1 or 2 (the most deprived 20% in England), or a ward or local authority with
  at least :data:`DEPRIVED_SHARE` of its LSOAs so, by the latest Index of Multiple Deprivation imported (found by
  its keys, :func:`indicators.deprivation.latest_deprivation_index`);
- **quiet**: the observations shared with the reader there in the period shown are none or fewer than k, read from
  the value the reader is shown (so a flag says nothing the page does not).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from indicators.deprivation import latest_deprivation_index
from indicators.models import Indicator, IndicatorValue
from indicators.values import latest_period_start
from webapp.disclosure import Released, State
from webapp.extensions import db
from webapp.hierarchy import lsoa_ids_within_many
from webapp.models import Area, AreaLevel

DEPRIVED_DECILES = 2  # deciles 1-2: the most deprived 20% of LSOAs in England
DEPRIVED_SHARE = 0.3  # a ward or authority with at least this share of its LSOAs in them
QUIET_STATES = (State.ZERO, State.HIDDEN, State.WITHHELD)


def rule(k: int) -> str:
    """The rule in words, the same on every page that uses it."""
    return (
        f"An LSOA in the most deprived 20% in England (IMD deciles 1-{DEPRIVED_DECILES}), or a ward or local "
        f"authority with at least {DEPRIVED_SHARE:.0%} of its LSOAs there, where the observations shown for the "
        f"period are none or fewer than {k}. Few observations there more likely mean nobody is recording than that "
        "nothing is happening."
    )


def deprived_shares(areas: Iterable[Area], index: Indicator | None = None) -> dict[int, float]:
    """Each area's share of its LSOAs in deciles 1-2 of ``index`` (the latest IMD), at its latest period; an LSOA's
    own share is 1 or 0. Areas with no decile known are left out."""
    index = index or latest_deprivation_index()
    areas = list(areas)
    if index is None or not areas:
        return {}
    within = lsoa_ids_within_many(areas, index.vintage)  # one query per level, not per area
    wanted = {i for ids in within.values() for i in ids}
    if not wanted:
        return {}
    latest = latest_period_start(index)  # cached per import
    deciles = dict(db.session.execute(
        select(IndicatorValue.area_id, IndicatorValue.decile).where(
            IndicatorValue.indicator_id == index.id, IndicatorValue.period_start == latest,
            IndicatorValue.area_id.in_(wanted), IndicatorValue.decile.is_not(None))
    ).tuples().all())  # fmt: skip
    shares = {}
    for area_id, ids in within.items():
        known = [d for i in ids if (d := deciles.get(i)) is not None]  # the query read no empty decile
        if known:
            shares[area_id] = sum(1 for d in known if d <= DEPRIVED_DECILES) / len(known)
    return shares


def is_deprived(area: Area, share: float | None) -> bool:
    if share is None:
        return False
    return share >= (1.0 if area.level is AreaLevel.LSOA else DEPRIVED_SHARE)


def is_quiet(shown: Released) -> bool:
    """What the reader is shown there is none, fewer than k, or withheld inside a total of fewer than k."""
    return shown.state in QUIET_STATES


def is_gap(area: Area, share: float | None, shown: Released) -> bool:
    return is_deprived(area, share) and is_quiet(shown)
