"""The briefing's "Grants beside need" section (issue 19): recorded funding per ward in the briefing's period, per
head and per observation, beside deprivation, with the "high need, low recorded funding" rule of the grants page
(:mod:`indicators.grants.need`).

The composer stores the facts (money, grants and populations per ward: no counts of observations) with the shared
facts; each edition writes the section from them and from its own released ward counts (``ward.<id>`` cells), so
the funders' edition divides by what funders are shown and a ward whose count is not shown as a number reads "not
enough observations".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

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


def write(edition: Edition) -> tuple[str, list[dict]]:
    """(Markdown, charts) of the section for one edition."""
    grants = edition.shared.get("grants") or {}
    if not grants.get("imported"):
        return (
            "No grants in the 360Giving Data Standard have been imported for this partnership, so recorded funding "
            "cannot be set beside need. A convenor imports them on the *Grants* page.",
            [],
        )
    per_head = bool(grants.get("population"))
    wards = edition.shared.get("wards", [])
    money = [grants["wards"].get(str(w["id"]), {"pence": 0, "grants": 0, "population": None}) for w in wards]
    flags, _ = need.low_funding([(m["pence"], m["population"]) for m in money], per_head)
    lines = [
        f"Grants awarded in the briefing's period ({edition.shared.get('period', '')}) recorded in the imported "
        "360Giving files, by the ward their beneficiary location names; the wards of high need and low recorded "
        "funding first.",
        "",
        need.rule(edition.k, per_head),
        "",
    ]
    if not per_head:
        lines += ["No population figures are imported, so funding per head is not shown.", ""]
    header = "| Ward | Recorded funding | Grants |" + (" Per head |" if per_head else "")
    header += " Observations | Per observation | Most deprived 20% | High need, low funding |"
    lines += [header, "|---|---:|---:|" + ("---:|" if per_head else "") + "---:|---:|---:|---|"]
    flagged = []
    rows = []
    for w, m, low in zip(wards, money, flags, strict=True):
        share = w.get("share")
        rows.append(
            (not (low and share is not None and share >= DEPRIVED_SHARE), -(share or 0.0), w["name"], w, m, low)
        )
    for *_, w, m, low in sorted(rows, key=lambda r: r[:3]):
        share = w.get("share")
        high_need = share is not None and share >= DEPRIVED_SHARE
        if edition.tokens:
            per_obs = "worked out when read"
        else:
            value = need.per_observation(m["pence"], edition.rel(f"ward.{w['id']}"))
            per_obs = amount_text(value) if value is not None else "not enough observations"
        row = f"| {cell(w['name'])} | {amount_text(m['pence'])} | {m['grants']} |"
        if per_head:
            row += f" {amount_text(m['pence'] / m['population']) if m['population'] else 'not known'} |"
        flag = high_need and low
        if flag:
            flagged.append(w["name"])
        row += f" {edition.nward(w)} | {per_obs} | {f'{share:.0%}' if share is not None else 'not known'} |"
        row += f" {'Yes' if flag else 'No'} |"
        lines.append(row)
    lines.append("")
    if grants.get("authority_pence"):
        lines += [f"{amount_text(grants['authority_pence'])} was for the whole local authority and is not shared out "
                  "between wards.", ""]  # fmt: skip
    lines.append(
        "High need, low recorded funding: " + ", ".join(flagged) + "."
        if flagged
        else "No ward is high need with low recorded funding by this rule."
    )
    return "\n".join(lines), []
