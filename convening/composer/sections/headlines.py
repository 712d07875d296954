"""The headlines: this period against the previous one, what rose and fell, by theme (or category) and week."""

from __future__ import annotations

from typing import TYPE_CHECKING

from convening.composer.charts import bar_chart, chart, line_chart
from convening.composer.facts import UNTHEMED
from convening.composer.text import cell

if TYPE_CHECKING:
    from convening.composer.edition import Edition


def write(edition: Edition) -> tuple[str, list[dict]]:
    total_now, total_before = edition.rel("total.now"), edition.rel("total.before")
    lines = [
        f"From {edition.shared.get('period', '')}, member organisations and residents recorded "
        f"**{edition.n('total.now')}** observations{edition.where()}, against {edition.n('total.before')} in the "
        f"previous period of the same length ({edition.shared.get('previous', '')}).",
        "",
    ]
    if not (total_now.perturbed or total_before.perturbed):
        lines.append(f"With fewer than {edition.k} observations in each period, they are not broken down further.")
        return "\n".join(lines), []
    rows = edition.changes()
    rising = [r for r in rows if r.direction == "rising" and r.name != UNTHEMED]
    falling = [r for r in rows if r.direction == "falling" and r.name != UNTHEMED]
    for label, group in (("Rising", rising), ("Falling", falling)):
        if group:
            items = "; ".join(
                f"{r.name} ({edition.ng(r.key, 'now')}, was {edition.ng(r.key, 'before')})" for r in group[:5]
            )
            lines.append(f"- **{label}:** {items}.")
    if not rising and not falling:
        lines.append("- No group of observations rose or fell markedly between the two periods.")
    shown = [r for r in rows if r.now.perturbed or r.before.perturbed]
    small = sorted(r.name for r in rows if r not in shown and (r.now.hidden or r.before.hidden))
    if shown:
        lines += ["", f"| {edition.group_word} | This period | Previous period | Change |", "|---|---:|---:|---|"]
        lines += [
            f"| {cell(r.name)} | {edition.ng(r.key, 'now')} | {edition.ng(r.key, 'before')} | {r.direction} |"
            for r in shown
        ]
    if small:
        lines += ["", f"Fewer than {edition.k} observations in each period: {', '.join(small)}."]
    charts = []
    if not edition.tokens:
        chart_rows = [
            {"label": r.name, "value": c.value, "period": series}
            for r in rows
            for series, c in (("This period", r.now), ("Previous period", r.before))
            if c.perturbed
        ]
        if chart_rows:
            charts.append(
                chart(
                    bar_chart(
                        chart_rows,
                        f"Observations by {edition.group_word.lower()}",
                        "Observations",
                        "Observations this period and the previous one",
                        color_field="period",
                    ),
                    f"Bar chart of observations by {edition.group_word.lower()} in this period and the previous "
                    "period; the table below gives the same figures.",
                    f"This period: {edition.shared.get('period', '')}. Previous: {edition.shared.get('previous', '')}. "
                    f"Counts below {edition.k} are not drawn.",
                )
            )
        weekly = [
            {"week": week, "series": series, "value": c.value}
            for week in edition.facts.get("weeks", [])
            for series, c in (("Needs", edition.rel(f"w.{week}.need")), ("Assets", edition.rel(f"w.{week}.asset")))
            if c.perturbed
        ]
        if weekly:
            charts.append(
                chart(
                    line_chart(weekly, "Observations per week", "Needs and assets recorded per week"),
                    "Line chart of needs and assets recorded per week during the period.",
                    f"Weeks with fewer than {edition.k} observations of a kind are not drawn.",
                )
            )
    return "\n".join(lines), charts
