"""An edition of a composition: one audience's reading of the facts (:mod:`convening.composer.facts`), whose cells
are released through the disclosure layer whenever it is shown, and the writers of its sections
(:mod:`convening.composer.sections`), one module each, each writing ``(Markdown, charts)`` from the edition alone.

Words that depend on counts (rising, falling, gaps) are judged on the released counts. A convenor's own text keeps
its figures as ``{{n:cell}}`` placeholders, released when shown (:meth:`Edition.resolve`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

from convening.composer.counts import Count, GroupChange
from convening.composer.sections import (
    actions,
    gaps,
    grants,
    headlines,
    index,
    indicators,
    needs_assets,
    network,
    provenance,
    questions,
    quotes,
    ward_map,
)
from convening.models import SectionKind
from webapp.disclosure import Audience, Released, Tally, release, threshold
from webapp.models import OrgKind, Partnership

TOKEN = re.compile(r"\{\{n:([A-Za-z0-9_.\-]+)\}\}")
# Written from the data, in this order, by compose_briefing; the provenance appendix always closes a briefing.
MACHINE_SECTIONS = (
    SectionKind.HEADLINES,
    SectionKind.NEEDS_ASSETS,
    SectionKind.INDICATORS,
    SectionKind.INDEX,
    SectionKind.MAP,
    SectionKind.QUOTES,
    SectionKind.GAPS,
    SectionKind.NETWORK,
    SectionKind.GRANTS,
    SectionKind.ACTIONS,
    SectionKind.QUESTIONS,
)
SectionWriter = Callable[["Edition"], tuple[str, list[dict]]]
WRITERS: dict[SectionKind, SectionWriter] = {
    SectionKind.HEADLINES: headlines.write,
    SectionKind.NEEDS_ASSETS: needs_assets.write,
    SectionKind.INDICATORS: indicators.write,
    SectionKind.MAP: ward_map.write,
    SectionKind.QUOTES: quotes.write,
    SectionKind.GAPS: gaps.write,
    SectionKind.GRANTS: grants.write,
    SectionKind.ACTIONS: actions.write,
    SectionKind.QUESTIONS: questions.write,
    SectionKind.NETWORK: network.write,
    SectionKind.PROVENANCE: provenance.write,
    SectionKind.INDEX: index.write,
}


def wanted(kind: SectionKind, facts: dict) -> bool:
    """Whether a machine section is written for these facts (optional sections need their data)."""
    return kind is not SectionKind.INDEX or index.wanted(facts.get("shared", {}))


class Edition:
    """One audience's edition of a composition: releases its cells and writes its sections.

    ``tokens``: write ``{{n:cell}}`` placeholders instead of released numbers (the draft a convenor edits: the
    numbers stay live, released whenever the section is shown).
    """

    def __init__(self, facts: dict, audience: Audience, partnership: Partnership | None, tokens: bool = False):
        self.audience = audience
        self.shared = facts.get("shared", {})
        self.facts = facts.get(audience.value, {})
        self.cells = self.facts.get("cells", {})
        self.partnership = partnership
        self.tokens = tokens
        self.k = threshold()

    # Cells ---------------------------------------------------------------------------------------------------------

    def tally(self, key: str) -> Tally:
        return Tally.from_json(self.cells.get(key))

    def rel(self, key: str) -> Released:
        cell = self.cells.get(key)
        if cell is None:
            return release(Tally())
        return release(Tally.from_json(cell), [self.tally(w) for w in cell.get("within", [])])

    def count(self, key: str) -> Count:
        """The cell released for this edition, shown as its placeholder in a draft (``tokens``)."""
        return Count(key, self.rel(key), self.tokens)

    def n(self, key: str) -> str:
        return str(self.count(key))

    def ng(self, group_key: str, part: str) -> str:
        return self.n(f"g.{group_key}.{part}")

    def nward(self, ward: dict) -> str:
        return self.n(f"ward.{ward['id']}")

    def resolve(self, markdown: str) -> str:
        """A convenor's text with its ``{{n:cell}}`` placeholders released (an unknown cell reads "not available")."""
        return TOKEN.sub(lambda m: str(self.rel(m.group(1))) if m.group(1) in self.cells else "not available",
                         markdown or "")  # fmt: skip

    # What several sections read -----------------------------------------------------------------------------------

    @property
    def group_word(self) -> str:
        return self.shared.get("group_word", "Theme")

    def where(self) -> str:
        """ " in <the focus areas>" (empty without focus areas)."""
        where = self.shared.get("where") or []
        return f" in {', '.join(where)}" if where else ""

    def changes(self) -> list[GroupChange]:
        """Each group's change between the periods, judged on the released counts only."""
        rows = []
        for name, key in self.facts.get("groups", {}).items():
            now, before = self.count(f"g.{key}.now"), self.count(f"g.{key}.before")
            n, b = now.value, before.value  # None exactly when suppressed
            if n is None or b is None:
                direction = "not comparable (small numbers)"
            elif n >= b * 1.25 and n - b >= 3:
                direction = "rising"
            elif n <= b * 0.8 and b - n >= 3:
                direction = "falling"
            else:
                direction = "steady"
            rows.append(GroupChange(name, key, now, before, direction))
        rows.sort(key=lambda r: (-r.now.shown_value, -r.before.shown_value, r.name))
        return rows

    def wards(self) -> list[tuple[dict, Released]]:
        """Each focus ward (as the shared facts hold it) with its count released for this edition."""
        return [(w, self.rel(f"ward.{w['id']}")) for w in self.shared.get("wards", [])]

    def quote_list(self) -> list[dict]:
        """The edition's quotes, attributed now (never narrower than k organisations)."""
        out = []
        members = Counter(o.kind for o in self.partnership.members) if self.partnership is not None else Counter()
        for q in self.facts.get("quotes", []):
            if q.get("resident"):
                who = "a resident"
            else:
                kind = OrgKind(q["org_kind"]) if q.get("org_kind") else None
                who = f"a {kind.label.lower()}" if kind and members[kind] >= self.k else "a partner organisation"
            out.append({**q, "attribution": who})
        return out

    # Sections ------------------------------------------------------------------------------------------------------

    def section(self, kind: SectionKind) -> tuple[str, list[dict]]:
        """(Markdown, charts) of a section written from the facts."""
        writer = WRITERS.get(kind)
        return writer(self) if writer else ("", [])
