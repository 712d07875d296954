"""Questions for discussion: from what rose and fell, early warnings, deprived wards and open actions.

:func:`read` gathers the section's typed facts from an edition (the groups' changes judged on released counts),
:func:`render` writes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from convening.composer.facts import UNTHEMED

if TYPE_CHECKING:
    from convening.composer.edition import Edition

# Early warnings offered as discussion questions, strongest first.
MAX_WARNING_QUESTIONS = 3


@dataclass(frozen=True)
class EarlyWarning:
    """An early warning as stored: a need theme rising in an area while its official figures have not got worse."""

    theme: str
    area: str
    indicators: str
    machine_label: bool  # the theme's name was made by the machine, not curated


@dataclass(frozen=True)
class QuestionFacts:
    rising: tuple[str, ...]  # groups, most observations first
    falling: tuple[str, ...]
    warnings: tuple[EarlyWarning, ...]  # strongest first (the partnership's edition only)
    deprived: bool  # deprivation data was imported
    open_actions: bool  # an action from an earlier session is still open


def read(edition: Edition) -> QuestionFacts:
    rows = [r for r in edition.changes() if r.name != UNTHEMED]
    return QuestionFacts(
        rising=tuple(r.name for r in rows if r.direction == "rising"),
        falling=tuple(r.name for r in rows if r.direction == "falling"),
        warnings=tuple(
            EarlyWarning(w["theme"], w["area"], w["indicators"], bool(w.get("machine_label")))
            for w in edition.facts.get("warnings", [])
        ),
        deprived=bool(edition.shared.get("deprived")),
        open_actions=any(a.get("open") for a in edition.shared.get("actions", [])),
    )


def write(edition: Edition) -> tuple[str, list[dict]]:
    return render(read(edition))


def render(facts: QuestionFacts) -> tuple[str, list[dict]]:
    qs = []
    for name in facts.rising[:2]:
        qs.append(f"What is behind the rise in observations about {name.lower()}, and who is already responding?")
    for name in facts.falling[:1]:
        qs.append(f"Has need around {name.lower()} really eased, or are fewer groups recording it?")
    for w in facts.warnings[:MAX_WARNING_QUESTIONS]:
        marker = " (a machine-made theme name)" if w.machine_label else ""
        qs.append(
            f"Early warning: reports about {w.theme.lower()}{marker} are rising in {w.area} while the "
            f"official figures there have not got worse ({w.indicators}). What are partners seeing, and "
            "should we act before the statistics catch up?"
        )
    if facts.deprived:
        qs.append("Which members could help us hear from the deprived wards where few observations are recorded?")
    if facts.open_actions:
        qs.append("What is holding up the actions still open, and should any be dropped?")
    qs.append("What should the partnership do differently before the next session?")
    return "\n".join(f"{i}. {q}" for i, q in enumerate(qs, 1)), []
