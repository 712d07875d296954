"""Needs beside assets, by theme (or category), this period.

:func:`read` gathers the section's typed facts from an edition (every count released), :func:`render` writes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from convening.composer.charts import bar_chart, chart
from convening.composer.counts import Count
from convening.composer.text import cell
from webapp.disclosure import State

if TYPE_CHECKING:
    from convening.composer.edition import Edition


@dataclass(frozen=True)
class NeedsAssetsRow:
    """One group's needs and assets this period."""

    name: str
    need: Count
    asset: Count


@dataclass(frozen=True)
class NeedsAssetsFacts:
    """Each group's needs and assets, most first; none when this period has fewer than k observations."""

    group_word: str
    k: int
    total_now: Count
    rows: tuple[NeedsAssetsRow, ...]
    drafting: bool  # a convenor's draft: placeholders, no charts

    @property
    def shown(self) -> list[NeedsAssetsRow]:
        """The groups in the table: k or more needs or assets."""
        return [r for r in self.rows if r.need.perturbed or r.asset.perturbed]

    @property
    def small(self) -> list[str]:
        """The groups named only as having fewer than k needs and fewer than k assets."""
        shown = self.shown
        return sorted(r.name for r in self.rows if r not in shown and (r.need.hidden or r.asset.hidden))

    @property
    def thin(self) -> list[str]:
        """The groups with needs shown and no asset recorded."""
        return [r.name for r in self.rows if r.need.perturbed and r.asset.state is State.ZERO]


def read(edition: Edition) -> NeedsAssetsFacts:
    rows = [
        NeedsAssetsRow(name, edition.count(f"g.{key}.need"), edition.count(f"g.{key}.asset"))
        for name, key in edition.facts.get("groups", {}).items()
    ]
    rows.sort(key=lambda r: (-(r.need.shown_value + r.asset.shown_value), r.name))
    return NeedsAssetsFacts(edition.group_word, edition.k, edition.count("total.now"), tuple(rows), edition.tokens)


def write(edition: Edition) -> tuple[str, list[dict]]:
    return render(read(edition))


def render(facts: NeedsAssetsFacts) -> tuple[str, list[dict]]:
    word = facts.group_word.lower()
    lines = [f"What groups see going wrong (needs) beside what is helping (assets), by {word}, in this period.", ""]
    if not facts.total_now.perturbed:
        lines.append(f"Fewer than {facts.k} observations this period: not broken down.")
        return "\n".join(lines), []
    shown = facts.shown
    if shown:
        lines += [f"| {facts.group_word} | Needs | Assets |", "|---|---:|---:|"]
        lines += [f"| {cell(r.name)} | {r.need} | {r.asset} |" for r in shown]
    else:
        lines.append(f"No {word} has {facts.k} or more needs or assets this period.")
    if small := facts.small:
        lines += ["", f"Fewer than {facts.k} needs and fewer than {facts.k} assets: {', '.join(small)}."]
    if thin := facts.thin:
        lines += ["", f"Needs with no asset recorded beside them: {', '.join(thin)}."]
    charts = []
    if not facts.drafting:
        chart_rows = [
            {"label": r.name, "value": c.value, "kind": series}
            for r in facts.rows
            for series, c in (("Needs", r.need), ("Assets", r.asset))
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
                    f"Counts below {facts.k} are not drawn.",
                )
            )
    return "\n".join(lines), charts
