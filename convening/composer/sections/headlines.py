"""The headlines: this period against the previous one, what rose and fell, by theme (or category) and week.

:func:`read` gathers the section's typed facts from an edition (every count released), :func:`render` writes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from convening.composer.charts import bar_chart, chart, line_chart
from convening.composer.counts import Count, GroupChange
from convening.composer.facts import UNTHEMED
from convening.composer.text import cell

if TYPE_CHECKING:
    from convening.composer.edition import Edition


@dataclass(frozen=True)
class WeekCounts:
    """Needs and assets recorded in one week of the period."""

    week: str
    need: Count
    asset: Count


def weekly_rows(weeks: tuple[WeekCounts, ...]) -> list[dict]:
    """The line chart's points: every week from the first to the last whose count is released, for each kind drawn
    at least once; a week between them whose count is not released (fewer than k, or none recorded) is a null, so the
    line breaks there instead of joining its neighbours as if the weeks between had been counted. The axis spans the
    released weeks only, as before the gaps were drawn: where the first and last observations fell is not shown."""
    released = {(w.week, series): c.value for w in weeks for series, c in (("Needs", w.need), ("Assets", w.asset))
                if c.perturbed}  # fmt: skip
    if not released:
        return []
    first, last = (date.fromisoformat(w) for w in (min(w for w, _ in released), max(w for w, _ in released)))
    every_week = [(first + timedelta(days=7 * i)).isoformat() for i in range((last - first).days // 7 + 1)]
    drawn = [series for series in ("Needs", "Assets") if any(s == series for _, s in released)]
    return [{"week": w, "series": s, "value": released.get((w, s))} for s in drawn for w in every_week]


@dataclass(frozen=True)
class HeadlineFacts:
    """What the headlines say: the totals of both periods, each group's change, and the weeks."""

    period: str
    previous: str
    where: str  # " in <the focus areas>", or empty
    group_word: str
    k: int
    total_now: Count
    total_before: Count
    groups: tuple[GroupChange, ...]  # most observations first
    weeks: tuple[WeekCounts, ...]
    drafting: bool  # a convenor's draft: placeholders, no charts

    @property
    def broken_down(self) -> bool:
        """Whether either period has k or more observations (else nothing is broken down)."""
        return self.total_now.perturbed or self.total_before.perturbed

    @property
    def rising(self) -> list[GroupChange]:
        return [r for r in self.groups if r.direction == "rising" and r.name != UNTHEMED]

    @property
    def falling(self) -> list[GroupChange]:
        return [r for r in self.groups if r.direction == "falling" and r.name != UNTHEMED]

    @property
    def shown(self) -> list[GroupChange]:
        """The groups in the table: k or more observations in either period."""
        return [r for r in self.groups if r.now.perturbed or r.before.perturbed]

    @property
    def small(self) -> list[str]:
        """The groups named only as having fewer than k observations in each period."""
        shown = self.shown
        return sorted(r.name for r in self.groups if r not in shown and (r.now.hidden or r.before.hidden))


def read(edition: Edition) -> HeadlineFacts:
    return HeadlineFacts(
        period=edition.shared.get("period", ""),
        previous=edition.shared.get("previous", ""),
        where=edition.where(),
        group_word=edition.group_word,
        k=edition.k,
        total_now=edition.count("total.now"),
        total_before=edition.count("total.before"),
        groups=tuple(edition.changes()),
        weeks=tuple(
            WeekCounts(week, edition.count(f"w.{week}.need"), edition.count(f"w.{week}.asset"))
            for week in edition.facts.get("weeks", [])
        ),
        drafting=edition.tokens,
    )


def write(edition: Edition) -> tuple[str, list[dict]]:
    return render(read(edition))


def render(facts: HeadlineFacts) -> tuple[str, list[dict]]:
    lines = [
        f"From {facts.period}, member organisations and residents recorded "
        f"**{facts.total_now}** observations{facts.where}, against {facts.total_before} in the "
        f"previous period of the same length ({facts.previous}).",
        "",
    ]
    if not facts.broken_down:
        lines.append(f"With fewer than {facts.k} observations in each period, they are not broken down further.")
        return "\n".join(lines), []
    rising, falling = facts.rising, facts.falling
    for label, group in (("Rising", rising), ("Falling", falling)):
        if group:
            items = "; ".join(f"{r.name} ({r.now}, was {r.before})" for r in group[:5])
            lines.append(f"- **{label}:** {items}.")
    if not rising and not falling:
        lines.append("- No group of observations rose or fell markedly between the two periods.")
    shown, small = facts.shown, facts.small
    if shown:
        lines += ["", f"| {facts.group_word} | This period | Previous period | Change |", "|---|---:|---:|---|"]
        lines += [f"| {cell(r.name)} | {r.now} | {r.before} | {r.direction} |" for r in shown]
    if small:
        lines += ["", f"Fewer than {facts.k} observations in each period: {', '.join(small)}."]
    charts = []
    if not facts.drafting:
        chart_rows = [
            {"label": r.name, "value": c.value, "period": series}
            for r in facts.groups
            for series, c in (("This period", r.now), ("Previous period", r.before))
            if c.perturbed
        ]
        word = facts.group_word.lower()
        if chart_rows:
            charts.append(
                chart(
                    bar_chart(
                        chart_rows,
                        f"Observations by {word}",
                        "Observations",
                        "Observations this period and the previous one",
                        color_field="period",
                    ),
                    f"Bar chart of observations by {word} in this period and the previous "
                    "period; the table below gives the same figures.",
                    f"This period: {facts.period}. Previous: {facts.previous}. Counts below {facts.k} are not drawn.",
                )
            )
        weekly = weekly_rows(facts.weeks)
        if weekly:
            charts.append(
                chart(
                    line_chart(weekly, "Observations per week", "Needs and assets recorded per week"),
                    "Line chart of needs and assets recorded per week during the period.",
                    f"Weeks with fewer than {facts.k} observations of a kind are not drawn.",
                )
            )
    return "\n".join(lines), charts
