"""Official statistics for the focus (the composer's indicator context), and the wards' deprivation chart.

:func:`read` gathers the section's typed facts from an edition, :func:`render` writes them. The stored rows keep
their shape (published versions are read as they were stored): :meth:`IndicatorRow.from_stored` reads one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from convening.composer.charts import bar_chart, chart

if TYPE_CHECKING:
    from convening.composer.edition import Edition


@dataclass(frozen=True)
class IndicatorRow:
    """One measure's latest figure for the focus, as :mod:`convening.composer.indicator_context` worded it."""

    indicator: str
    value: str
    period: str
    trend: str
    source: str

    @classmethod
    def from_stored(cls, row: dict[str, Any]) -> IndicatorRow:
        return cls(row["indicator"], row["value"], row["period"], row["trend"], row["source"])


@dataclass(frozen=True)
class WardShare:
    """A focus ward's share of LSOAs in the most deprived 20% (for the chart)."""

    name: str
    share: float


@dataclass(frozen=True)
class IndicatorFacts:
    where: str  # the focus areas, else the partnership
    rows: tuple[IndicatorRow, ...]
    ward_shares: tuple[WardShare, ...]  # the focus wards with a share, in the stored order
    drafting: bool  # a convenor's draft: no charts


def read(edition: Edition) -> IndicatorFacts:
    return IndicatorFacts(
        where=", ".join(edition.shared.get("where") or []) or edition.shared.get("partnership", ""),
        rows=tuple(IndicatorRow.from_stored(r) for r in edition.shared.get("indicators", [])),
        ward_shares=tuple(
            WardShare(w["name"], w["share"]) for w in edition.shared.get("wards", []) if w.get("share") is not None
        ),
        drafting=edition.tokens,
    )


def write(edition: Edition) -> tuple[str, list[dict]]:
    return render(read(edition))


def render(facts: IndicatorFacts) -> tuple[str, list[dict]]:
    if not facts.rows:
        return (
            "No official indicator datasets have been imported for these areas yet. An administrator can import "
            "them (`commintel indicators import`).",
            [],
        )
    lines = [
        f"Official statistics for {facts.where}: the latest value of each measure, its trend where more than one "
        "period has been published, and who published it.",
        "",
        "| Measure | Latest | Period | Trend | Source |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {r.indicator} | {r.value} | {r.period} | {r.trend} | {r.source} |" for r in facts.rows]
    charts = []
    if facts.ward_shares and not facts.drafting:
        percent = [(w.name, round(w.share * 100, 1)) for w in facts.ward_shares]
        bars = [{"label": name, "value": value} for name, value in sorted(percent, key=lambda p: -p[1])[:20]]
        charts.append(
            chart(
                bar_chart(
                    bars,
                    "Most deprived 20% nationally, by ward",
                    "% of the ward's LSOAs",
                    "Share of each ward's LSOAs in the most deprived fifth (IMD)",
                ),
                "Bar chart of the share of each ward's small areas in the most deprived fifth of England.",
                "English Indices of Deprivation; wards with the highest shares first (top 20).",
            )
        )
    return "\n".join(lines), charts
