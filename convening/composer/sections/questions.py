"""Questions for discussion: from what rose and fell, early warnings, deprived wards and open actions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from convening.composer.facts import UNTHEMED

if TYPE_CHECKING:
    from convening.composer.edition import Edition

# Early warnings offered as discussion questions, strongest first.
MAX_WARNING_QUESTIONS = 3


def write(edition: Edition) -> tuple[str, list[dict]]:
    rows = [r for r in edition.changes() if r.name != UNTHEMED]
    qs = []
    for r in [r for r in rows if r.direction == "rising"][:2]:
        qs.append(f"What is behind the rise in observations about {r.name.lower()}, and who is already responding?")
    for r in [r for r in rows if r.direction == "falling"][:1]:
        qs.append(f"Has need around {r.name.lower()} really eased, or are fewer groups recording it?")
    for w in edition.facts.get("warnings", [])[:MAX_WARNING_QUESTIONS]:
        marker = " (a machine-made theme name)" if w.get("machine_label") else ""
        qs.append(
            f"Early warning: reports about {w['theme'].lower()}{marker} are rising in {w['area']} while the "
            f"official figures there have not got worse ({w['indicators']}). What are partners seeing, and "
            "should we act before the statistics catch up?"
        )
    if edition.shared.get("deprived"):
        qs.append("Which members could help us hear from the deprived wards where few observations are recorded?")
    if any(a.get("open") for a in edition.shared.get("actions", [])):
        qs.append("What is holding up the actions still open, and should any be dropped?")
    qs.append("What should the partnership do differently before the next session?")
    return "\n".join(f"{i}. {q}" for i, q in enumerate(qs, 1)), []
