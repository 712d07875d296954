"""Identity across refits: a new fit's themes are matched to the previous version's (centroid similarity and term
overlap, Hungarian assignment), so a curated theme keeps its id. Plain values: no Flask, no database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nlp.themes.params import ThemeResult
from nlp.themes.quality import top_words
from nlp.themes.similarity import normalise

# Identity across refits -----------------------------------------------------------------------------------------


@dataclass
class PreviousTheme:
    id: int
    centroid: np.ndarray
    terms: list[str]


@dataclass(frozen=True)
class MatchRule:
    """A new theme takes an old theme's id when the centroids are very close, or close with shared terms."""

    strong_cosine: float = 0.85
    cosine: float = 0.7
    term_overlap: float = 0.2


def term_overlap(a: Sequence[str], b: Sequence[str]) -> float:
    sa, sb = set(top_words(a)), set(top_words(b))
    return len(sa & sb) / len(sa | sb) if sa | sb else 0.0


def match_themes(
    previous: Sequence[PreviousTheme], new: Sequence[ThemeResult], rule: MatchRule | None = None
) -> dict[int, int]:
    """``{new topic: previous theme id}`` for the new themes that continue an old one (one-to-one).

    Hungarian assignment on 0.7 x centroid cosine + 0.3 x term overlap (Jaccard of top words); a pair is kept only
    if it passes :class:`MatchRule`. Unmatched new topics are new themes; unmatched previous ids have vanished.
    """
    rule = rule or MatchRule()
    if not previous or not new:
        return {}
    from scipy.optimize import linear_sum_assignment  # noqa: PLC0415 - heavy: scipy.optimize loads in ~1 s

    old_c = normalise(np.vstack([p.centroid for p in previous]))
    new_c = normalise(np.vstack([t.centroid for t in new]))
    cos = new_c @ old_c.T
    overlap = np.array([[term_overlap(t.terms, p.terms) for p in previous] for t in new])
    score = 0.7 * cos + 0.3 * overlap
    rows, cols = linear_sum_assignment(-score)
    out = {}
    for r, c in zip(rows, cols, strict=True):
        if cos[r, c] >= rule.strong_cosine or (cos[r, c] >= rule.cosine and overlap[r, c] >= rule.term_overlap):
            out[new[r].topic] = previous[c].id
    return out
