"""Actions agreed at earlier sessions, with where they stand.

:func:`read` gathers the section's typed facts from an edition, :func:`render` writes them. The stored rows keep
their shape (published versions are read as they were stored): :meth:`ActionRow.from_stored` reads one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from convening.composer.text import cell

if TYPE_CHECKING:
    from convening.composer.edition import Edition


@dataclass(frozen=True)
class ActionRow:
    """An action carried from an earlier session, as the composer stored it."""

    description: str
    owner: str
    due: str
    status: str
    about: str  # its themes and areas, or empty
    open: bool  # still to be done

    @classmethod
    def from_stored(cls, row: dict[str, Any]) -> ActionRow:
        return cls(row["description"], row["owner"], row["due"], row["status"], row["about"], bool(row.get("open")))


@dataclass(frozen=True)
class ActionFacts:
    actions: tuple[ActionRow, ...]


def read(edition: Edition) -> ActionFacts:
    return ActionFacts(tuple(ActionRow.from_stored(a) for a in edition.shared.get("actions", [])))


def write(edition: Edition) -> tuple[str, list[dict]]:
    return render(read(edition))


def render(facts: ActionFacts) -> tuple[str, list[dict]]:
    if not facts.actions:
        return "There are no actions from earlier sessions.", []
    lines = [
        "Actions agreed at earlier sessions, with where they stand.",
        "",
        "| Action | Owner | Due | Status | Themes and areas |",
        "|---|---|---|---|---|",
    ]
    for a in facts.actions:
        lines.append(f"| {cell(a.description)} | {cell(a.owner)} | {a.due} | {a.status} | {cell(a.about) or '—'} |")
    return "\n".join(lines), []
