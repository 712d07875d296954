"""The provenance appendix: where every figure comes from and how the figures are protected.

:func:`read` gathers the section's typed facts from an edition (every count released), :func:`render` writes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from convening.composer.counts import Count
from convening.composer.text import cell
from webapp.disclosure import Audience, method_note, released_with

if TYPE_CHECKING:
    from convening.composer.edition import Edition

FUNDERS_NOTE = (
    "The funders' edition: every figure counts only observations their organisations shared with funders, and quotes "
    "appear only where the people concerned also agreed that funders may read them. Written by commintel from the "
    "same composition as the partnership's edition."
)


@dataclass(frozen=True)
class Source:
    """An official dataset the briefing used, as the composer stored it."""

    title: str
    publisher: str | None
    licence: str | None
    release: str

    @classmethod
    def from_stored(cls, row: dict[str, Any]) -> Source:
        return cls(row["title"], row["publisher"], row["licence"], row["release"])


@dataclass(frozen=True)
class Contributors:
    """One kind of contributor (a kind of organisation with k or more members, or residents) and its observations."""

    label: str
    resident: bool
    organisations: int
    observations: Count


@dataclass(frozen=True)
class ProvenanceFacts:
    audience: Audience
    k: int
    period: str
    sources: tuple[Source, ...]
    total_now: Count
    total_before: Count
    contributors: tuple[Contributors, ...]
    theme_model: str  # the theme model in words, or empty (grouped by category)
    method: str  # how counts are protected, in words
    released_with: dict[str, Any]  # k, D and the perturbation table the counts are released with now


def read(edition: Edition) -> ProvenanceFacts:
    return ProvenanceFacts(
        audience=edition.audience,
        k=edition.k,
        period=edition.shared.get("period", ""),
        sources=tuple(Source.from_stored(s) for s in edition.shared.get("sources", [])),
        total_now=edition.count("total.now"),
        total_before=edition.count("total.before"),
        contributors=tuple(
            Contributors(row["label"], bool(row["resident"]), row["organisations"], edition.count("kind." + key))
            for key, row in edition.facts.get("kinds", {}).items()
        ),
        theme_model=edition.shared.get("theme_model") or "",
        method=method_note(),
        released_with=released_with(),
    )


def write(edition: Edition) -> tuple[str, list[dict]]:
    return render(read(edition))


def render(facts: ProvenanceFacts) -> tuple[str, list[dict]]:
    k = facts.k
    lines = ["Where every figure in this briefing comes from.", "", "### Official statistics", ""]
    if facts.sources:
        lines += ["| Dataset | Publisher | Licence | Released |", "|---|---|---|---|"]
        lines += [f"| {cell(s.title)} | {cell(s.publisher)} | {cell(s.licence)} | {s.release} |" for s in facts.sources]
    else:
        lines.append("No official statistics were used.")
    shared_with = (
        "shared with funders by organisations that accepted the current data-sharing agreement"
        if facts.audience is Audience.FUNDERS
        else "shared with the partnership by organisations that accepted the current data-sharing agreement, "
        "and residents' observations approved by a moderator"
    )
    lines += [
        "",
        "### Observations",
        "",
        f"{facts.total_now} observations from {facts.period} (previous period: "
        f"{facts.total_before}), {shared_with}. Only observations with personal details removed are used.",
        "",
    ]
    if facts.contributors and facts.total_now.perturbed:
        lines += ["| Contributed by | Organisations | Observations |", "|---|---:|---:|"]
        for c in facts.contributors:
            n = c.organisations
            orgs = "—" if c.resident else (f"{n}" if n >= k else f"fewer than {k}")
            lines.append(f"| {c.label} | {orgs} | {c.observations} |")
        lines += ["", f"A kind of organisation has its own row only where the partnership has at least {k} "
                  "members of that kind."]  # fmt: skip
    lines += ["", "### Themes", ""]
    if facts.theme_model:
        lines.append(
            f"Observations are grouped by the themes of the partnership's theme model, "
            f"{facts.theme_model}. Theme names may be machine-made unless a convenor renamed them."
        )
    else:
        lines.append(
            "No theme model has been run for this partnership yet: observations are grouped by the category "
            "their organisation chose."
        )
    method = facts.released_with
    lines += [
        "",
        "### How the figures are protected",
        "",
        facts.method,
        f"Released with threshold k={method['k']}, maximum change D={method['D']} and perturbation table "
        f"{method['ptable']}.",
    ]
    if facts.audience is Audience.FUNDERS:
        lines += ["", FUNDERS_NOTE]
    return "\n".join(lines), []
