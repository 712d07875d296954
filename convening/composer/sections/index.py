"""The briefing section of the partnership's composite neighbourhood index (issue 19 part 1).

The composer records which published index version a briefing speaks of (:func:`facts`: ids only, no figures); each
edition writes the section from that version whenever it is shown (:func:`write`), read for the edition's audience
by :func:`indicators.index_operations.reading`. A published version never changes, so its indicator part reads the
same every time; its community domain (a theme's share of observations per area) is released through the disclosure
layer for the edition's audience, is left out of the funders' edition (as themes are), and follows erasures because it
is counted again when shown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from indicators import index_operations as index_ops
from indicators.index_models import IndexVersion
from webapp.extensions import db
from webapp.models import Partnership

if TYPE_CHECKING:
    from convening.composer.edition import Edition

TOP = 5


def facts(partnership: Partnership) -> dict:
    """``{"index": ...}``: the latest published index version of ``partnership`` (ids and names only) for the
    composer's shared facts; ``{}`` without one (so a briefing without an index stores the facts it always did)."""
    version = index_ops.latest_published(partnership)
    if version is None:
        return {}
    return {"index": {"version_id": version.id, "index_id": version.index_id, "title": version.index.title,
                      "number": version.number}}  # fmt: skip


def wanted(shared: dict) -> bool:
    """Whether a briefing gets the section: only when the partnership has a published index."""
    return bool(shared.get("index"))


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _cell(text: str) -> str:
    return str(text).replace("|", "/").replace("\n", " ")


def write(edition: Edition) -> tuple[str, list[dict]]:
    """(Markdown, charts) of the section for ``edition``."""
    about = edition.shared.get("index")
    version = db.session.get(IndexVersion, about["version_id"]) if about else None
    if version is None or not version.is_published:
        return "The partnership has no published neighbourhood index.", []
    reading = index_ops.reading(version, edition.audience)
    ranked = reading.result.ranked
    by_id = reading.area_by_id
    names = reading.result.domain_names
    level = version.level.label  # the table's heading ("Ward", "LSOA")
    levels = f"{level if level.isupper() else level.lower()}s"  # mid-sentence: "wards", "LSOAs"
    lines = [
        f"**{_cell(version.index.title)}** (version {version.number}): {len(ranked)} {levels} ranked by "
        f"{len(names)} domain{'s' if len(names) != 1 else ''}, 1 = the most need. Indicators standardised with "
        f"{reading.method_label}; the index is the weighted mean of the domain scores.",
        "",
    ]
    header = "| Rank | " + level + " | Rank range (5th–95th) | " + " | ".join(
        _cell(reading.domain_labels.get(n, n)) for n in names) + " |"  # fmt: skip
    rule = "|---:|---|---|" + "---:|" * len(names)

    def rows(items) -> list[str]:
        out = []
        for r in items:
            s = r.stability
            spread = f"{s.low}–{s.high} ({s.p5}–{s.p95})" if s else "—"
            domains = " | ".join(
                "not enough observations" if v is None and n == index_ops.COMMUNITY else _score(v)
                for n, v in ((n, r.domains.get(n)) for n in names)
            )
            out.append(f"| {r.rank} | {_cell(by_id[r.area_id].name)} | {spread} | {domains} |")
        return out

    if not ranked:
        return "\n".join([*lines, "No area has values for this index's indicators."]), []
    lines += [f"### The {min(TOP, len(ranked))} {levels} with the most need", "", header, rule, *rows(ranked[:TOP])]
    if len(ranked) > TOP:
        bottom = ranked[-min(TOP, len(ranked) - TOP) :]
        lines += ["", f"### The {len(bottom)} {levels} with the least need", "", header, rule, *rows(bottom)]
    close = [r for r in ranked if r.stability and r.stability.p95 - r.stability.p5 > 0]
    lines += [
        "",
        f"**Stability.** Each rank was recomputed over {version.draws:,} random weightings of the domains (Dirichlet "
        f"around the chosen weights, seed {version.seed}). {len(close)} of {len(ranked)} {levels} change rank within "
        "their 5th–95th percentile range: where ranges overlap, the order is a close call, not a finding.",
    ]
    if reading.community_note:
        lines += ["", reading.community_note]
    lines += ["", "**Sources.**", "", "| Indicator | Dataset | Publisher | Released | Period | Used as |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    lines += [
        f"| {_cell(s['indicator'])} | {_cell(s['dataset'])} | {_cell(s['publisher'] or 'not stated')} | "
        f"{_cell(s['released'])} | {_cell(s['period'])} | {_cell(s['measure'])} |"
        for s in reading.sources
    ]
    return "\n".join(lines), []
