"""Official statistics for the focus (the composer's indicator context), and the wards' deprivation chart."""

from __future__ import annotations

from typing import TYPE_CHECKING

from convening.composer.charts import bar_chart, chart

if TYPE_CHECKING:
    from convening.composer.edition import Edition


def write(edition: Edition) -> tuple[str, list[dict]]:
    rows = edition.shared.get("indicators", [])
    if not rows:
        return (
            "No official indicator datasets have been imported for these areas yet. An administrator can import "
            "them (`commintel indicators import`).",
            [],
        )
    where = ", ".join(edition.shared.get("where") or []) or edition.shared.get("partnership", "")
    lines = [
        f"Official statistics for {where}: the latest value of each measure, its trend where more than one "
        "period has been published, and who published it.",
        "",
        "| Measure | Latest | Period | Trend | Source |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {r['indicator']} | {r['value']} | {r['period']} | {r['trend']} | {r['source']} |" for r in rows]
    charts = []
    shares = [w for w in edition.shared.get("wards", []) if w.get("share") is not None]
    if shares and not edition.tokens:
        bars = sorted(({"label": w["name"], "value": round(w["share"] * 100, 1)} for w in shares),
                      key=lambda r: -r["value"])[:20]  # fmt: skip
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
