"""What a section's typed facts hold of a count: a :class:`Count` is one cell of an edition released through the
disclosure layer (:func:`webapp.disclosure.release`), with the cell it came from, so that a convenor's draft can
show its ``{{n:cell}}`` placeholder instead of the number; a :class:`GroupChange` is one group's two periods.
"""

from __future__ import annotations

from dataclasses import dataclass

from webapp.disclosure import Released, State


@dataclass(frozen=True)
class Count:
    """A released count and its cell. ``str()`` is what a briefing shows: the released number in words, or the
    cell's placeholder in a draft (``placeholder``), released again whenever the draft is shown."""

    cell: str
    released: Released
    placeholder: bool = False

    def __str__(self) -> str:
        return f"{{{{n:{self.cell}}}}}" if self.placeholder else str(self.released)

    @property
    def value(self) -> int | None:
        return self.released.value

    @property
    def state(self) -> State:
        return self.released.state

    @property
    def perturbed(self) -> bool:
        return self.released.perturbed

    @property
    def hidden(self) -> bool:
        return self.released.hidden

    @property
    def shown_value(self) -> int:
        return self.released.shown_value


@dataclass(frozen=True)
class GroupChange:
    """One group's (theme's or category's) counts in the two periods, released for the edition, and which way it
    moved: "rising", "falling", "steady" or "not comparable (small numbers)". Read by the headlines and questions."""

    name: str
    key: str  # the group's cells are g.<key>.now, g.<key>.before, g.<key>.<kind>
    now: Count
    before: Count
    direction: str
