"""Actions agreed at earlier sessions, with where they stand."""

from __future__ import annotations

from typing import TYPE_CHECKING

from convening.composer.text import cell

if TYPE_CHECKING:
    from convening.composer.edition import Edition


def write(edition: Edition) -> tuple[str, list[dict]]:
    actions = edition.shared.get("actions", [])
    if not actions:
        return "There are no actions from earlier sessions.", []
    lines = [
        "Actions agreed at earlier sessions, with where they stand.",
        "",
        "| Action | Owner | Due | Status | Themes and areas |",
        "|---|---|---|---|---|",
    ]
    for a in actions:
        lines.append(
            f"| {cell(a['description'])} | {cell(a['owner'])} | {a['due']} | {a['status']} | "
            f"{cell(a['about']) or '—'} |"
        )
    return "\n".join(lines), []
