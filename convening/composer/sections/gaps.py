"""Evidence gaps: deprived wards with few observations, by the rule of :mod:`indicators.gaps`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from convening.composer.text import cell
from indicators.gaps import DEPRIVED_SHARE, is_quiet, rule

if TYPE_CHECKING:
    from convening.composer.edition import Edition


def write(edition: Edition) -> tuple[str, list[dict]]:
    wards = edition.wards()
    if edition.shared.get("deprived"):
        gaps = sorted(
            ((w, c) for w, c in wards if (w.get("share") or 0.0) >= DEPRIVED_SHARE and is_quiet(c)),
            key=lambda t: -(t[0].get("share") or 0.0),
        )
        lines = [
            f"Wards in need of more evidence, by the rule the area pages use too: {rule(edition.k)}",
            "",
        ]
        if gaps:
            lines += ["| Ward | Most deprived 20% | Observations |", "|---|---:|---:|"]
            lines += [f"| {cell(w['name'])} | {w['share']:.0%} | {edition.nward(w)} |" for w, _ in gaps]
        else:
            lines.append("No deprived ward is short of observations this period.")
    else:
        quiet = [w["name"] for w, c in wards if not c.perturbed]
        lines = [
            f"No deprivation data has been imported, so gaps are shown as wards with fewer than {edition.k} "
            "observations this period.",
            "",
            ", ".join(quiet) + "." if quiet else "Every ward has observations.",
        ]
    return "\n".join(lines), []
