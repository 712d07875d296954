"""The briefing's "Grants beside need" section (issue 19): recorded funding per ward in the briefing's period, per
head and per observation, beside deprivation, with the "high need, low recorded funding" rule of the grants page
(:mod:`indicators.grants.need`).

The composer stores the facts (money, grants and populations per ward: no counts of observations) with the shared
facts; each edition writes the section from them and from its own released ward counts (``ward.<id>`` cells), so
the funders' edition divides by what funders are shown and a ward whose count is not shown as a number reads "not
enough observations". :func:`read` gathers the section's typed facts from an edition, :func:`render` writes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from convening.composer.counts import Count
from convening.composer.focus import Focus
from convening.composer.text import cell
from indicators.gaps import DEPRIVED_SHARE
from indicators.grants import need
from indicators.grants.importer import amount_text
from indicators.grants.models import Grant
from webapp.extensions import db
from webapp.models import Area, Partnership

if TYPE_CHECKING:
    from convening.composer.edition import Edition


def facts(partnership: Partnership, wards: list[Area], focus: Focus) -> dict:
    """Money per ward of the grants awarded in the briefing's period (award date from its start to its end)."""
    if db.session.scalar(select(Grant.id).where(Grant.partnership_id == partnership.id).limit(1)) is None:
        return {"imported": False}
    pence, count, authority = need.funding_by_ward(partnership, focus.start, focus.end)
    indicator = need.population_indicator()
    people = need.populations(wards, indicator)
    return {
        "imported": True,
        "wards": {
            str(w.id): {"pence": pence.get(w.id, 0), "grants": count.get(w.id, 0), "population": people.get(w.id)}
            for w in wards
        },  # fmt: skip
        "authority_pence": authority,
        "population": indicator.name if indicator is not None and people else None,
    }


@dataclass(frozen=True)
class GrantWard:
    """A focus ward's recorded funding in the period beside its need and its observations in this edition."""

    name: str
    pence: int
    grants: int
    population: float | None
    observations: Count
    share: float | None  # of its LSOAs in the most deprived 20%; None without deprivation data
    low_funding: bool  # by the rule of indicators.grants.need

    @property
    def high_need_low_funding(self) -> bool:
        return self.low_funding and self.share is not None and self.share >= DEPRIVED_SHARE

    @property
    def per_observation(self) -> float | None:
        """Pence per observation released to this edition; None unless the count is shown as a number."""
        return need.per_observation(self.pence, self.observations.released)


@dataclass(frozen=True)
class GrantFacts:
    imported: bool  # grants were imported for the partnership
    period: str
    k: int
    per_head: bool  # populations are imported: funding per head is judged
    wards: tuple[GrantWard, ...]  # high need and low funding first, then the most deprived, then by name
    authority_pence: int  # funding for the whole local authority, not shared out
    drafting: bool  # a convenor's draft: per observation is worked out when read

    @property
    def flagged(self) -> list[str]:
        return [w.name for w in self.wards if w.high_need_low_funding]


def read(edition: Edition) -> GrantFacts:
    grants = edition.shared.get("grants") or {}
    period, k = edition.shared.get("period", ""), edition.k
    if not grants.get("imported"):
        return GrantFacts(False, period, k, False, (), 0, edition.tokens)
    per_head = bool(grants.get("population"))
    stored = edition.shared.get("wards", [])
    money = [grants["wards"].get(str(w["id"]), {"pence": 0, "grants": 0, "population": None}) for w in stored]
    flags, _ = need.low_funding([(m["pence"], m["population"]) for m in money], per_head)
    wards = [
        GrantWard(w["name"], m["pence"], m["grants"], m["population"], edition.count(f"ward.{w['id']}"),
                  w.get("share"), low)
        for w, m, low in zip(stored, money, flags, strict=True)
    ]  # fmt: skip
    wards.sort(key=lambda w: (not w.high_need_low_funding, -(w.share or 0.0), w.name))
    return GrantFacts(True, period, k, per_head, tuple(wards), grants.get("authority_pence") or 0, edition.tokens)


def write(edition: Edition) -> tuple[str, list[dict]]:
    """(Markdown, charts) of the section for one edition."""
    return render(read(edition))


def render(facts: GrantFacts) -> tuple[str, list[dict]]:
    if not facts.imported:
        return (
            "No grants in the 360Giving Data Standard have been imported for this partnership, so recorded funding "
            "cannot be set beside need. A convenor imports them on the *Grants* page.",
            [],
        )
    per_head = facts.per_head
    lines = [
        f"Grants awarded in the briefing's period ({facts.period}) recorded in the imported "
        "360Giving files, by the ward their beneficiary location names; the wards of high need and low recorded "
        "funding first.",
        "",
        need.rule(facts.k, per_head),
        "",
    ]
    if not per_head:
        lines += ["No population figures are imported, so funding per head is not shown.", ""]
    header = "| Ward | Recorded funding | Grants |" + (" Per head |" if per_head else "")
    header += " Observations | Per observation | Most deprived 20% | High need, low funding |"
    lines += [header, "|---|---:|---:|" + ("---:|" if per_head else "") + "---:|---:|---:|---|"]
    for w in facts.wards:
        if facts.drafting:
            per_obs = "worked out when read"
        else:
            value = w.per_observation
            per_obs = amount_text(value) if value is not None else "not enough observations"
        row = f"| {cell(w.name)} | {amount_text(w.pence)} | {w.grants} |"
        if per_head:
            row += f" {amount_text(w.pence / w.population) if w.population else 'not known'} |"
        share = f"{w.share:.0%}" if w.share is not None else "not known"
        row += f" {w.observations} | {per_obs} | {share} | {'Yes' if w.high_need_low_funding else 'No'} |"
        lines.append(row)
    lines.append("")
    if facts.authority_pence:
        lines += [f"{amount_text(facts.authority_pence)} was for the whole local authority and is not shared out "
                  "between wards.", ""]  # fmt: skip
    flagged = facts.flagged
    lines.append(
        "High need, low recorded funding: " + ", ".join(flagged) + "."
        if flagged
        else "No ward is high need with low recorded funding by this rule."
    )
    return "\n".join(lines), []
