"""Needs beside assets, by theme (or category), this period."""

from __future__ import annotations

from typing import TYPE_CHECKING

from convening.composer.charts import bar_chart, chart
from convening.composer.text import cell
from webapp.disclosure import State

if TYPE_CHECKING:
    from convening.composer.edition import Edition


def write(edition: Edition) -> tuple[str, list[dict]]:
    word = edition.group_word.lower()
    lines = [f"What groups see going wrong (needs) beside what is helping (assets), by {word}, in this period.", ""]
    if not edition.rel("total.now").perturbed:
        lines.append(f"Fewer than {edition.k} observations this period: not broken down.")
        return "\n".join(lines), []
    groups = edition.facts.get("groups", {})
    rows = []
    for name, key in groups.items():
        need, asset = edition.rel(f"g.{key}.need"), edition.rel(f"g.{key}.asset")
        rows.append((name, key, need, asset))
    rows.sort(key=lambda r: (-(r[2].shown_value + r[3].shown_value), r[0]))
    shown = [r for r in rows if r[2].perturbed or r[3].perturbed]
    if shown:
        lines += [f"| {edition.group_word} | Needs | Assets |", "|---|---:|---:|"]
        lines += [
            f"| {cell(name)} | {edition.ng(key, 'need')} | {edition.ng(key, 'asset')} |" for name, key, _, _ in shown
        ]
    else:
        lines.append(f"No {word} has {edition.k} or more needs or assets this period.")
    small = sorted(name for name, _, need, asset in rows if (name, _, need, asset) not in shown and
                   (need.hidden or asset.hidden))  # fmt: skip
    if small:
        lines += ["", f"Fewer than {edition.k} needs and fewer than {edition.k} assets: {', '.join(small)}."]
    thin = [name for name, _, need, asset in rows if need.perturbed and asset.state is State.ZERO]
    if thin:
        lines += ["", f"Needs with no asset recorded beside them: {', '.join(thin)}."]
    charts = []
    if not edition.tokens:
        chart_rows = [
            {"label": name, "value": c.value, "kind": series}
            for name, _, need, asset in rows
            for series, c in (("Needs", need), ("Assets", asset))
            if c.perturbed
        ]
        if chart_rows:
            charts.append(
                chart(
                    bar_chart(
                        chart_rows,
                        f"Needs and assets by {word}",
                        "Observations",
                        "Needs beside assets",
                        color_field="kind",
                    ),
                    f"Bar chart of needs and assets in each {word}; the table gives the same figures.",
                    f"Counts below {edition.k} are not drawn.",
                )
            )
    return "\n".join(lines), charts
