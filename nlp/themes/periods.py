"""The periods a theme page shows: months when at least half of them are released as a number, else quarters, else
the whole year (:func:`periods`; the theme list chooses one grain for a whole table, :func:`table_grain`), with each
period's cells nested so that no released count can be subtracted from another to reveal a suppressed one. Plain
values in (tallies per month), released values out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from nlp.themes.queries import add_months
from webapp.disclosure import Released, Tally, release

# Months, then quarters, then the whole year: the first at which at least half the periods are released as a number.
GRAINS = (("month", 1), ("quarter", 3), ("year", 12))
SHOWN_ENOUGH = 0.5


@dataclass(frozen=True)
class Period:
    start: date
    months: int  # 1, 3 or 12
    count: Released

    @property
    def end(self) -> date:
        """The first day after the period."""
        return add_months(self.start, self.months)

    @property
    def label(self) -> str:
        last = add_months(self.start, self.months - 1)
        if self.months == 1:
            return f"{self.start:%B %Y}"
        if self.start.year == last.year:
            return f"{self.start:%b}–{last:%b %Y}"
        return f"{self.start:%b %Y}–{last:%b %Y}"


def blocks(months: list[date], size: int) -> list[list[date]]:
    """``months`` (consecutive, oldest first, a multiple of ``size`` long) in blocks of ``size`` ending with the last
    month: the last quarter is the trend's "last 3 complete months", the one before it the trend's "3 before"."""
    return [months[i : i + size] for i in range(0, len(months), size)]


def nesting(per_month: dict[date, Tally], months: list[date]) -> dict[tuple[date, int], Tally]:
    """``{(block start, block size): tally}`` for every month, quarter and the year of ``months``."""
    out: dict[tuple[date, int], Tally] = {}
    for _, size in GRAINS:
        for block in blocks(months, size):
            out[(block[0], size)] = Tally.total(per_month.get(m, Tally()) for m in block)
    return out


def containing(nested: dict[tuple[date, int], Tally], month: date, months: list[date], below: int = 1) -> list[Tally]:
    """The tallies of the periods larger than ``below`` months that contain ``month`` (for ``within``)."""
    out = []
    for _, size in GRAINS:
        if size <= below:
            continue
        for block in blocks(months, size):
            if month in block:
                out.append(nested.get((block[0], size), Tally()))
    return out


def released_blocks(
    nested: dict[tuple[date, int], Tally],
    months: list[date],
    size: int,
    within: list[Tally],
    also: tuple[dict[tuple[date, int], Tally], ...] = (),
) -> list[Period]:
    """The blocks of ``size`` months, each released inside ``within``, the larger periods containing it, and the same
    period and its larger ones in each of ``also`` (other nestings of the same months that contain these counts: the
    theme's all-kinds counts around a row of one kind)."""
    out = []
    for block in blocks(months, size):
        key = (block[0], size)
        around = [*within, *containing(nested, block[0], months, below=size)]
        for other in also:
            around += [other.get(key, Tally()), *containing(other, block[0], months, below=size)]
        out.append(Period(block[0], size, release(nested.get(key, Tally()), around)))
    return out


def periods(
    per_month: dict[date, Tally],
    months: list[date],
    within: list[Tally],
    also: tuple[dict[tuple[date, int], Tally], ...] = (),
) -> list[Period]:
    """A theme's counts over ``months`` (12 complete months), released at the finest grain that says something:
    months when at least half of them are released as a number, else quarters, else the whole year.

    Every cell names the larger periods containing it (and ``within``, the theme's totals, and ``also``; see
    :func:`released_blocks`), so a quarter of fewer than k is never broken into months on any page: the theme list's
    month columns are :func:`released_blocks` of the same cells."""
    nested = nesting(per_month, months)
    return finest(released_blocks(nested, months, size, within, also) for _, size in GRAINS)


def says_enough(cells: Iterable[Period]) -> bool:
    """At least half of ``cells`` are released as a number."""
    cells = list(cells)
    return sum(1 for p in cells if p.count.value is not None) >= SHOWN_ENOUGH * len(cells)


def finest(by_grain: Iterable[list[Period]]) -> list[Period]:
    """The first of ``by_grain`` (a theme's periods at each grain of :data:`GRAINS`, in that order) that says enough,
    else the last (the year). Lazy: a generator's coarser grains are not released once a finer one says enough."""
    cells: list[Period] = []
    for cells in by_grain:
        if says_enough(cells):
            break
    return cells


def table_grain(rows: list[dict[int, list[Period]]]) -> tuple[str, int]:
    """(name, months) of the finest grain at which the whole table says enough (the rule of :func:`periods`, over
    every row at once: one set of columns); the year when none does. ``rows``: each row's periods by grain size."""
    for name, size in GRAINS:
        if says_enough(p for row in rows for p in row[size]):
            return name, size
    return GRAINS[-1]


def column_label(start: date, months: int) -> str:
    """A short column heading: "Mar 26", "Dec 25–Feb 26" (a quarter), "Dec 25–Nov 26" (the year)."""
    if months == 1:
        return f"{start:%b %y}"
    return f"{start:%b %y}\u2013{add_months(start, months - 1):%b %y}"
