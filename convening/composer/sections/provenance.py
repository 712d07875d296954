"""The provenance appendix: where every figure comes from and how the figures are protected."""

from __future__ import annotations

from typing import TYPE_CHECKING

from convening.composer.text import cell
from webapp.disclosure import Audience, method_note, released_with

if TYPE_CHECKING:
    from convening.composer.edition import Edition

FUNDERS_NOTE = (
    "The funders' edition: every figure counts only observations their organisations shared with funders, and quotes "
    "appear only where the people concerned also agreed that funders may read them. Written by commintel from the "
    "same composition as the partnership's edition."
)


def write(edition: Edition) -> tuple[str, list[dict]]:
    lines = ["Where every figure in this briefing comes from.", "", "### Official statistics", ""]
    sources = edition.shared.get("sources", [])
    if sources:
        lines += ["| Dataset | Publisher | Licence | Released |", "|---|---|---|---|"]
        lines += [
            f"| {cell(s['title'])} | {cell(s['publisher'])} | {cell(s['licence'])} | {s['release']} |" for s in sources
        ]
    else:
        lines.append("No official statistics were used.")
    shared_with = (
        "shared with funders by organisations that accepted the current data-sharing agreement"
        if edition.audience is Audience.FUNDERS
        else "shared with the partnership by organisations that accepted the current data-sharing agreement, "
        "and residents' observations approved by a moderator"
    )
    lines += [
        "",
        "### Observations",
        "",
        f"{edition.n('total.now')} observations from {edition.shared.get('period', '')} (previous period: "
        f"{edition.n('total.before')}), {shared_with}. Only observations with personal details removed are used.",
        "",
    ]
    kinds = edition.facts.get("kinds", {})
    if kinds and edition.rel("total.now").perturbed:
        lines += ["| Contributed by | Organisations | Observations |", "|---|---:|---:|"]
        for key, row in kinds.items():
            n = row["organisations"]
            orgs = "—" if row["resident"] else (f"{n}" if n >= edition.k else f"fewer than {edition.k}")
            lines.append(f"| {row['label']} | {orgs} | {edition.n('kind.' + key)} |")
        lines += ["", f"A kind of organisation has its own row only where the partnership has at least {edition.k} "
                  "members of that kind."]  # fmt: skip
    lines += ["", "### Themes", ""]
    if edition.shared.get("theme_model"):
        lines.append(
            f"Observations are grouped by the themes of the partnership's theme model, "
            f"{edition.shared['theme_model']}. Theme names may be machine-made unless a convenor renamed them."
        )
    else:
        lines.append(
            "No theme model has been run for this partnership yet: observations are grouped by the category "
            "their organisation chose."
        )
    method = released_with()
    lines += [
        "",
        "### How the figures are protected",
        "",
        method_note(),
        f"Released with threshold k={method['k']}, maximum change D={method['D']} and perturbation table "
        f"{method['ptable']}.",
    ]
    if edition.audience is Audience.FUNDERS:
        lines += ["", FUNDERS_NOTE]
    return "\n".join(lines), []
