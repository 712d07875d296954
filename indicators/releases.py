"""Earlier releases of the same measure (same dataset and indicator keys, e.g. IoD2019 beside IoD2025): kept with
the latest release's figure on an area page and compared with it in words."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from indicators.models import Indicator, IndicatorDataset, ValueKind
from webapp.models import Area, AreaLevel

if TYPE_CHECKING:
    from indicators.figures import Figure

# Shown once on a page where a deprivation figure sits beside its earlier release.
IOD_CAVEAT = (
    "Ranks and deciles are relative: a change between releases means the area moved among England's "
    "neighbourhoods, not that deprivation rose or fell by that much. IoD2025 uses new data, methods and 2021 LSOAs, "
    "so MHCLG advises that comparisons with IoD2019 are indicative."
)


@dataclass
class Earlier:
    """An earlier release of the same measure (same dataset and indicator key), shown beside the current one."""

    dataset: IndicatorDataset
    indicator: Indicator
    period: str
    display: str
    comparison: str = ""  # "more deprived relative to England than in 2019" ...
    bridge_note: str = ""


def superseded(indicators: list[Indicator]) -> dict[int, IndicatorDataset]:
    """The indicators of an earlier release whose measure (same dataset and indicator keys) has a later release among
    ``indicators``: indicator id -> the latest release's dataset (e.g. an IoD2019 domain -> IoD2025)."""
    latest: dict[tuple[str, str], Indicator] = {}
    for i in indicators:
        if i.dataset.key and i.key:
            key = (i.dataset.key, i.key)
            if key not in latest or _newer(i, latest[key]):
                latest[key] = i
    return {
        i.id: latest[(i.dataset.key, i.key)].dataset
        for i in indicators
        if i.dataset.key and i.key and latest[(i.dataset.key, i.key)].id != i.id
    }


def current_first(indicators: list[Indicator]) -> list[Indicator]:
    """``indicators`` in their order, each measure's latest release before every earlier one (a list ordered by title
    put "Indices of Deprivation 2019" on 2011 LSOAs above 2025 in every chooser)."""
    old = superseded(indicators)
    return sorted(indicators, key=lambda i: i.id in old)  # stable: the order within each part is kept


def _newer(a: Indicator, b: Indicator) -> bool:
    return (a.dataset.release_date or date.min, a.dataset.id) > (b.dataset.release_date or date.min, b.dataset.id)


def with_earlier_releases(figures: list[Figure], area: Area) -> list[Figure]:
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
