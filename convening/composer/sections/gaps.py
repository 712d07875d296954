"""Evidence gaps: deprived wards with few observations, by the rule of :mod:`indicators.gaps`.

:func:`read` gathers the section's typed facts from an edition (every count released), :func:`render` writes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from convening.composer.counts import Count
from convening.composer.text import cell
from indicators.gaps import DEPRIVED_SHARE, is_quiet, rule

if TYPE_CHECKING:
    from convening.composer.edition import Edition


@dataclass(frozen=True)
class GapWard:
    """A deprived ward short of observations: its share of LSOAs in the most deprived 20%, and its count."""

    name: str
    share: float
    observations: Count


@dataclass(frozen=True)
class GapFacts:
    """With deprivation data, the deprived quiet wards (most deprived first); without it, the quiet wards."""

    k: int
    deprived: bool  # deprivation data was imported
    gaps: tuple[GapWard, ...]
    quiet: tuple[str, ...]  # without deprivation data: the wards with fewer than k observations


def read(edition: Edition) -> GapFacts:
    wards = [(w, edition.count(f"ward.{w['id']}")) for w in edition.shared.get("wards", [])]
    deprived = bool(edition.shared.get("deprived"))
    gaps = sorted(
        (
            GapWard(w["name"], w["share"], c)
            for w, c in wards
            if (w.get("share") or 0.0) >= DEPRIVED_SHARE and is_quiet(c.released)
        ),
        key=lambda g: -g.share,
    )
    quiet = tuple(w["name"] for w, c in wards if not c.perturbed)
    return GapFacts(edition.k, deprived, tuple(gaps) if deprived else (), () if deprived else quiet)


def write(edition: Edition) -> tuple[str, list[dict]]:
    return render(read(edition))


def render(facts: GapFacts) -> tuple[str, list[dict]]:
    if facts.deprived:
        lines = [f"Wards in need of more evidence, by the rule the area pages use too: {rule(facts.k)}", ""]
        if facts.gaps:
            lines += ["| Ward | Most deprived 20% | Observations |", "|---|---:|---:|"]
            lines += [f"| {cell(g.name)} | {g.share:.0%} | {g.observations} |" for g in facts.gaps]
        else:
            lines.append("No deprived ward is short of observations this period.")
    else:
        lines = [
            f"No deprivation data has been imported, so gaps are shown as wards with fewer than {facts.k} "
            "observations this period.",
            "",
            ", ".join(facts.quiet) + "." if facts.quiet else "Every ward has observations.",
        ]
    return "\n".join(lines), []
