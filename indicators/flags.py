"""The flags an area page raises by reading the community counts beside the indicators: an evidence gap (one rule,
:mod:`indicators.gaps`) and a need rising where the statistics are quiet (:mod:`indicators.warnings`)."""

from __future__ import annotations

from dataclasses import dataclass

from indicators import gaps, warnings
from indicators.area_themes import ThemesSection
from indicators.community import (
    CommunitySection,
)
from indicators.deprivation import deprivation_index
from indicators.figures import Figure
from webapp.disclosure import threshold
from webapp.models import Area, AreaLevel

# Flags ---------------------------------------------------------------------------------------------------------------


@dataclass
class Flag:
    title: str
    explanation: str


def evidence_gap(area: Area, figures: list[Figure], sections: list[CommunitySection]) -> Flag | None:
    """A deprived area with few or no observations: where the partnership may be hearing too little, by the one
    rule of :mod:`indicators.gaps` (the briefing and the city-wide list use it too). Read from the total the reader
    is shown, so the flag says nothing the page does not."""

    if not sections:
        return None
    index = deprivation_index([f.indicator for f in figures])
    if index is None:
        return None
    share = gaps.deprived_shares([area], index).get(area.id)
    section = sections[0]
    if not gaps.is_gap(area, share, section.total):
        return None
    k = threshold()
    how = (
        "this LSOA is in the most deprived 20% in England"
        if area.level is AreaLevel.LSOA
        else f"{share:.0%} of its LSOAs are in the most deprived 20% in England"
    )
    shown = f"fewer than {k}" if section.total.withheld else str(section.total)
    period = f"since {section.since:%d %B %Y}" if section.since else "in all time"
    return Flag(
        "Evidence gap",
        f"{how[0].upper()}{how[1:]} ({index.dataset.title}), yet {section.partnership.name} has {shown} "
        f"observations here shared with {section.audience.label} {period}. The rule: {gaps.rule(k)}",
    )


def rising_where_stable(area: Area, figures: list[Figure], themes: ThemesSection | None) -> Flag | None:
    """Needs rising in what the community reports here while the official indicators here are stable or improving:
    the early-warning rule of :mod:`indicators.warnings` (the convenor's home page and the briefing use it too),
    for the partnership's own people (``themes`` is None for everyone else)."""

    if themes is None:
        return None
    found = warnings.early_warnings(themes.partnership, [area], figures={area.id: figures})
    if not found:
        return None
    names = ", ".join(f"{w.theme} ({w.recent} in the last 3 months, {w.before} in the 3 before)" for w in found[:5])
    return Flag(
        "Rising needs where the statistics look stable",
        f"Reports of {names} are rising in {area.name}, while no official indicator here got worse between its "
        f"last two releases ({found[0].indicators_text}). Computed as: {warnings.RULE}. The statistics may lag: "
        "this is a prompt to look, not a finding.",
    )
