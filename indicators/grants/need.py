"""Grants beside need, per ward: recorded funding, per head and per observation, beside deprivation and themes.

- **Funding** of a ward: the money of grants awarded in the period whose beneficiary location is the ward or an LSOA
  in it (or, without a location code, whose recipient's postcode is there); a grant naming several locations is
  split equally. Money for a whole local authority is shown apart, not shared out between wards.
- **Per head**: funding ÷ the ward's population from an imported population indicator (a count indicator keyed
  ``population`` or named "population"; LSOA figures are summed to wards). Without one, per head is not shown and
  the page says so.
- **Per observation**: funding ÷ the ward's observations *as released to the reader* by the disclosure layer (the
  same value the ward page and the evidence-gaps page show). A count not shown as a number (none, fewer than k, not
  shown) gives "not enough observations": nothing is ever divided by a hidden count.
- **High need, low recorded funding** (:func:`rule`): a ward deprived by the evidence-gap rule (at least 30% of its
  LSOAs in the most deprived 20% in England, :mod:`indicators.gaps`) whose recorded funding per head (or, without
  populations, its funding) is none, or below half the median of the partnership's wards.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, or_, select

from indicators import area_themes, community, gaps
from indicators.deprivation import latest_deprivation_index
from indicators.grants.models import Grant, GrantFile, GrantPlace
from indicators.models import Indicator, IndicatorValue, ValueKind
from webapp.disclosure import Audience, Released, State
from webapp.extensions import db
from webapp.hierarchy import lsoa_ids_within_many
from webapp.models import Area, AreaLevel, Partnership

LOW_SHARE_OF_MEDIAN = 0.5
THEMES_SHOWN = 3
CENSUS_TOTAL = "Residence type: Total"  # Census 2021 TS001, usual residents, as indicators.readers names it


def rule(k: int, per_head: bool) -> str:
    """The rule in words, the same on the page, in the export and in the briefing."""
    measure = "funding per head" if per_head else "funding (no population figures are imported, so not per head)"
    return (
        "High need, low recorded funding: a ward where at least "
        f"{gaps.DEPRIVED_SHARE:.0%} of its LSOAs are in the most deprived 20% in England (IMD deciles "
        f"1-{gaps.DEPRIVED_DECILES}, the evidence-gap rule) and whose recorded {measure} in the period is none, or "
        f"below {LOW_SHARE_OF_MEDIAN:.0%} of the median of the partnership's wards. Funding per observation "
        f"divides by the observations shown to you; where fewer than {k} (or none) are shown it says “not enough "
        "observations”. "
        "Recorded funding is only what the imported 360Giving files hold: other funders' grants and public "
        "spending are not in it."
    )


@dataclass
class WardGrants:
    ward: Area
    pence: int
    grants: int
    population: float | None
    observations: Released
    share: float | None  # of its LSOAs in IMD deciles 1-2
    themes: list[str] = field(default_factory=list)
    low_funding: bool = False

    @property
    def per_head(self) -> float | None:
        """Pence per resident, or None without a population."""
        return self.pence / self.population if self.population else None

    @property
    def per_observation(self) -> float | None:
        """Pence per observation shown to the reader; None unless the count is shown as a number (k or more)."""
        return per_observation(self.pence, self.observations)

    @property
    def deprived(self) -> bool:
        return gaps.is_deprived(self.ward, self.share)

    @property
    def flagged(self) -> bool:
        return self.deprived and self.low_funding


def per_observation(pence: int, shown: Released) -> float | None:
    """Funding ÷ a released count; None when the count is not shown as a number (never a hidden count)."""
    if shown.state is not State.SHOWN or not shown.value:
        return None
    return pence / shown.value


@dataclass
class GrantsBesideNeed:
    partnership: Partnership
    audience: Audience
    since: date | None
    until: date | None
    rows: list[WardGrants]
    authority_pence: int
    population_indicator: Indicator | None
    index: Indicator | None
    files: list[GrantFile]
    median: float | None  # of per head (pence) or of funding, whichever the rule uses

    @property
    def per_head_known(self) -> bool:
        return self.population_indicator is not None and any(r.population for r in self.rows)

    @property
    def flagged(self) -> list[WardGrants]:
        return [r for r in self.rows if r.flagged]

    @property
    def total_pence(self) -> int:
        return sum(r.pence for r in self.rows) + self.authority_pence


def low_funding(wards: list[tuple[int, float | None]], per_head: bool) -> tuple[list[bool], float | None]:
    """Which of ``wards`` (pence, population) have low recorded funding by :func:`rule`, and the median it used:
    none at all, or below half the median per head (with populations; a ward without one is not judged) or of
    the funding (without)."""
    if per_head:
        measures = [pence / people if people else None for pence, people in wards]
    else:
        measures = [float(pence) for pence, _ in wards]
    known = [m for m in measures if m is not None]
    median = statistics.median(known) if known else None
    flags = [m is not None and (m == 0 or (median is not None and m < LOW_SHARE_OF_MEDIAN * median)) for m in measures]
    return flags, median


def population_indicator() -> Indicator | None:
    """The latest imported population figures: a count indicator keyed ``population`` or named with "population"
    or "usual residents", or the total of Census 2021 table TS001 (usual residents by residence type) as the
    census reader names it."""
    named = or_(
        Indicator.key == "population",
        func.lower(Indicator.name).like("%population%"),
        func.lower(Indicator.name).like("%usual residents%"),
        Indicator.name == CENSUS_TOTAL,
    )
    candidates = list(db.session.scalars(select(Indicator).where(Indicator.value_kind == ValueKind.COUNT, named)))
    return max(candidates, key=lambda i: (i.dataset.release_date or date.min, i.id), default=None)


def populations(wards: list[Area], indicator: Indicator | None) -> dict[int, float]:
    """Each ward's population at the indicator's latest period: the ward's own figure, or the sum over its LSOAs
    when every one of them has a figure (else unknown)."""
    if indicator is None or not wards:
        return {}
    latest = db.session.scalar(
        select(func.max(IndicatorValue.period_start)).where(IndicatorValue.indicator_id == indicator.id)
    )
    if indicator.level is AreaLevel.WARD:
        ids = [w.id for w in wards]
    else:
        within = lsoa_ids_within_many(wards, indicator.vintage)
        ids = [i for v in within.values() for i in v]
    values = dict(
        db.session.execute(
            select(IndicatorValue.area_id, IndicatorValue.value).where(
                IndicatorValue.indicator_id == indicator.id,
                IndicatorValue.period_start == latest,
                IndicatorValue.area_id.in_(ids),
                IndicatorValue.value.is_not(None),
            )
        )
        .tuples()
        .all()
    )
    if indicator.level is AreaLevel.WARD:
        return {w.id: v for w in wards if (v := values.get(w.id))}
    out: dict[int, float] = {}
    for ward_id, lsoas in within.items():
        parts = [v for i in lsoas if (v := values.get(i)) is not None]  # the query read no empty value
        if lsoas and len(parts) == len(lsoas):
            out[ward_id] = sum(parts)
    return out


def funding_by_ward(partnership: Partnership, since: date | None, until: date | None) -> tuple[dict, dict, int]:
    """``({ward id: pence}, {ward id: grants}, pence for whole local authorities of the partnership)`` of grants
    awarded from ``since`` to ``until`` (inclusive; None: no bound)."""
    query = (
        select(
            GrantPlace.ward_id,
            GrantPlace.area_id,
            func.sum(GrantPlace.amount_pence),
            func.count(func.distinct(GrantPlace.grant_id)),
        )
        .join(Grant, Grant.id == GrantPlace.grant_id)
        .where(GrantPlace.partnership_id == partnership.id)
        .group_by(GrantPlace.ward_id, GrantPlace.area_id)
    )
    if since is not None:
        query = query.where(Grant.award_date >= since)
    if until is not None:
        query = query.where(Grant.award_date <= until)
    lads = {a.id for a in partnership.areas if a.level is AreaLevel.LAD}
    pence: dict[int, int] = {}
    count: dict[int, int] = {}
    authority = 0
    for ward_id, area_id, amount, n in db.session.execute(query):
        if ward_id is not None:
            pence[ward_id] = pence.get(ward_id, 0) + int(amount or 0)
            count[ward_id] = count.get(ward_id, 0) + int(n)
        elif area_id in lads:
            authority += int(amount or 0)
    return pence, count, authority


def beside_need(
    partnership: Partnership,
    audience: Audience,
    wards: list[Area],
    since: date | None,
    until: date | None = None,
    user=None,
) -> GrantsBesideNeed:
    """The ward table: funding, per head, per observation (released for ``audience``), deprivation, and for the
    partnership's own people the ward's most-reported need themes (as its ward page lists them)."""
    pence, count, authority = funding_by_ward(partnership, since, until)
    indicator = population_indicator()
    people = populations(wards, indicator)
    index = latest_deprivation_index()
    shares = gaps.deprived_shares(wards, index)
    shown = community.area_totals(partnership, audience, wards, since) if wards else []
    rows = []
    for ward, released in zip(wards, shown, strict=True):
        themes = []
        if audience is Audience.PARTNERSHIP and user is not None:
            section = area_themes.area_themes(ward, user, since)
            if section is not None and section.partnership.id == partnership.id:
                themes = [t.label for t in section.needs[:THEMES_SHOWN]]
        rows.append(
            WardGrants(
                ward,
                pence.get(ward.id, 0),
                count.get(ward.id, 0),
                people.get(ward.id),
                released,
                shares.get(ward.id),
                themes,
            )
        )
    per_head = indicator is not None and any(r.population for r in rows)
    flags, median = low_funding([(r.pence, r.population) for r in rows], per_head)
    for r, flag in zip(rows, flags, strict=True):
        r.low_funding = flag
    rows.sort(key=lambda r: (not r.flagged, not r.deprived, -(r.share or 0.0), r.ward.name))
    files = list(
        db.session.scalars(
            select(GrantFile).where(GrantFile.partnership_id == partnership.id).order_by(GrantFile.imported_at.desc())
        )
    )
    return GrantsBesideNeed(
        partnership, audience, since, until, rows, authority, indicator if per_head else None, index, files, median
    )


def grants_list(partnership: Partnership, since: date | None) -> list[tuple[Grant, list[GrantPlace]]]:
    """The partnership's grants awarded since ``since`` (newest first) with their places, for the export."""
    query = select(Grant).where(Grant.partnership_id == partnership.id).order_by(Grant.award_date.desc(), Grant.id)
    if since is not None:
        query = query.where(Grant.award_date >= since)
    return [(g, list(g.places)) for g in db.session.scalars(query)]
