"""The arithmetic of a composite neighbourhood index: standardise, orient, combine, rank, and test the ranks' stability.

Pure numpy: no Flask, no database (the service layer, :mod:`indicators.index_operations`, reads the values and
passes them in). The method, in the words docs/neighbourhood-index.md uses:

1. **Standardise** each indicator over the areas of the index's level that have a value, by one of two methods,
   stated per index version: ``zscore`` ((value − mean) / standard deviation, the population standard deviation;
   0 for every area when all values are equal) or ``rank`` (the area's rank among the areas, ties sharing their
   average rank, scaled to 0..1: 0 the lowest value, 1 the highest).
2. **Orient** it so that a higher score always means more need: an indicator where higher is better is negated
   (z-score) or flipped (1 − scaled rank).
3. **Domain score**: the weighted mean of the domain's oriented indicator scores that the area has (the weights of
   the missing ones are left out, so an area is not pulled towards 0 by a gap).
4. **Index**: the weighted mean of the area's domain scores, over the domains it has (weights renormalised).
   Domain scores are not re-standardised: a domain of z-scores spreads as its indicators do.
5. **Rank**: 1 = the highest index (the most need); ties share the best rank.
6. **Stability**: the index is recomputed for ``draws`` random domain weightings drawn from a Dirichlet
   distribution centred on the chosen weights (``alpha = concentration × weight``, fixed seed), and each area's rank
   is reported as its range (min–max) and its 5th–95th percentile range over the draws. Indicator weights within a
   domain are not varied.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

METHODS = ("zscore", "rank")
METHOD_LABELS = {
    "zscore": "z-scores (difference from the mean in standard deviations)",
    "rank": "ranks scaled to 0–1 (ties share their average rank)",
}
WORSE, BETTER = "worse", "better"
DIRECTIONS = (WORSE, BETTER)
DIRECTION_LABELS = {WORSE: "Higher is worse (more need)", BETTER: "Higher is better (less need)"}
DEFAULT_DRAWS = 1000
DEFAULT_CONCENTRATION = 20.0


@dataclass(frozen=True)
class IndicatorSpec:
    """One indicator of a domain: the key its values are found by, its direction and its weight in the domain."""

    key: str
    direction: str = WORSE
    weight: float = 1.0


@dataclass(frozen=True)
class DomainSpec:
    name: str
    indicators: tuple[IndicatorSpec, ...]
    weight: float = 1.0


@dataclass
class Stability:
    low: int  # best (smallest) rank over the draws
    high: int  # worst rank
    p5: int
    p95: int

    @property
    def spread(self) -> int:
        return self.high - self.low


@dataclass
class AreaResult:
    area_id: int
    score: float | None
    rank: int | None
    domains: dict[str, float | None]
    stability: Stability | None = None


@dataclass
class Result:
    method: str
    areas: list[AreaResult]  # in rank order, areas without an index last
    domain_names: list[str]
    draws: int = 0
    seed: int | None = None
    concentration: float = DEFAULT_CONCENTRATION
    notes: list[str] = field(default_factory=list)

    def by_area(self) -> dict[int, AreaResult]:
        return {a.area_id: a for a in self.areas}

    @property
    def ranked(self) -> list[AreaResult]:
        return [a for a in self.areas if a.rank is not None]


def standardise(values: Mapping[int, float | None], method: str) -> dict[int, float]:
    """``{area id: standardised value}`` over the areas that have a value (those without are left out)."""
    if method not in METHODS:
        raise ValueError(f"unknown standardisation {method!r}")
    known = {a: float(v) for a, v in values.items() if v is not None and math.isfinite(float(v))}
    if not known:
        return {}
    ids = list(known)
    x = np.array([known[a] for a in ids], dtype=float)
    if method == "zscore":
        sd = x.std()
        z = np.zeros_like(x) if sd == 0 else (x - x.mean()) / sd
        return dict(zip(ids, (float(v) for v in z), strict=True))
    if len(x) == 1:
        return {ids[0]: 0.5}
    ranks = _average_ranks(x)  # 1..n, ties averaged
    scaled = (ranks - 1) / (len(x) - 1)
    return dict(zip(ids, (float(v) for v in scaled), strict=True))


def _average_ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), dtype=float)
    ranks[order] = np.arange(1, len(x) + 1)
    for value in np.unique(x):
        tied = x == value
        if tied.sum() > 1:
            ranks[tied] = ranks[tied].mean()
    return ranks


def orient(scores: Mapping[int, float], direction: str, method: str) -> dict[int, float]:
    """Scores turned so that higher always means more need."""
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown direction {direction!r}")
    if direction == WORSE:
        return dict(scores)
    if method == "zscore":
        return {a: -v for a, v in scores.items()}
    return {a: 1.0 - v for a, v in scores.items()}


def _weighted_mean(parts: Sequence[tuple[float, float | None]]) -> float | None:
    present = [(w, v) for w, v in parts if v is not None]
    total = sum(w for w, _ in present)
    if not present or total <= 0:
        return None
    return sum(w * v for w, v in present) / total


def domain_scores(
    domains: Sequence[DomainSpec],
    values: Mapping[str, Mapping[int, float | None]],
    area_ids: Sequence[int],
    method: str,
) -> dict[str, dict[int, float | None]]:
    """``{domain name: {area id: score or None}}`` from each indicator's values ``{key: {area id: value}}``."""
    out: dict[str, dict[int, float | None]] = {}
    for domain in domains:
        oriented = [
            (spec.weight, orient(standardise(values.get(spec.key, {}), method), spec.direction, method))
            for spec in domain.indicators
        ]
        out[domain.name] = {a: _weighted_mean([(w, scores.get(a)) for w, scores in oriented]) for a in area_ids}
    return out


def ranks_of(scores: np.ndarray) -> np.ndarray:
    """Rank 1 = highest score, ties share the best rank; NaN scores get rank 0 (none). 1-D, or one row per weighting
    (ranked along the last axis in one vectorised pass: 1,000 weightings of 268 LSOAs in a few milliseconds)."""
    from scipy.stats import rankdata  # noqa: PLC0415 - heavy: scipy is loaded only when an index is ranked

    negated = np.where(np.isnan(scores), np.inf, -scores)
    ranks = rankdata(negated, method="min", axis=-1).astype(int)
    return np.where(np.isnan(scores), 0, ranks)


def combine(
    domains: Sequence[DomainSpec],
    values: Mapping[str, Mapping[int, float | None]],
    area_ids: Sequence[int],
    method: str,
    extra_domains: Mapping[str, tuple[float, Mapping[int, float | None]]] | None = None,
    draws: int = 0,
    seed: int | None = None,
    concentration: float = DEFAULT_CONCENTRATION,
) -> Result:
    """The index of ``area_ids``: domain scores, the weighted mean of them, ranks, and (``draws`` > 0) stability.

    ``extra_domains``: ``{name: (weight, {area id: score or None})}`` already standardised and oriented (the
    community domain, whose shares the service layer releases and standardises itself)."""
    if method not in METHODS:
        raise ValueError(f"unknown standardisation {method!r}")
    by_domain = domain_scores(domains, values, area_ids, method)
    weights = {d.name: float(d.weight) for d in domains}
    for name, (weight, scores) in (extra_domains or {}).items():
        by_domain[name] = {a: scores.get(a) for a in area_ids}
        weights[name] = float(weight)
    names = list(by_domain)
    ids = list(area_ids)
    if not names or not ids:
        return Result(method, [AreaResult(a, None, None, {}) for a in ids], names, 0, seed, concentration)
    matrix = np.array([[np.nan if by_domain[n][a] is None else by_domain[n][a] for n in names] for a in ids])
    w = np.array([weights[n] for n in names], dtype=float)
    if (w <= 0).any():
        raise ValueError("every domain weight must be above 0")
    w = w / w.sum()
    scores = _index(matrix, w[None, :])[0]
    ranks = ranks_of(scores)
    stability: list[Stability | None] = [None] * len(ids)
    if draws > 0:
        rng = np.random.default_rng(seed)
        drawn = rng.dirichlet(concentration * w, size=draws) if len(w) > 1 else np.ones((draws, 1))
        drawn_ranks = ranks_of(_index(matrix, drawn))  # draws × areas
        low, high = drawn_ranks.min(axis=0), drawn_ranks.max(axis=0)
        p5, p95 = np.quantile(drawn_ranks, [0.05, 0.95], axis=0, method="inverted_cdf")
        for i in range(len(ids)):
            if not np.isnan(scores[i]):
                stability[i] = Stability(int(low[i]), int(high[i]), int(p5[i]), int(p95[i]))
    areas = [
        AreaResult(
            a,
            None if np.isnan(scores[i]) else float(scores[i]),
            None if np.isnan(scores[i]) else int(ranks[i]),
            {n: by_domain[n][a] for n in names},
            stability[i],
        )
        for i, a in enumerate(ids)
    ]
    areas.sort(key=lambda r: (r.rank is None, r.rank or 0, r.area_id))
    return Result(method, areas, names, draws, seed, concentration)


def _index(matrix: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted means of each area's present domain scores, one row per weighting: (weightings × areas)."""
    present = ~np.isnan(matrix)
    filled = np.where(present, matrix, 0.0)
    numerator = weights @ filled.T
    denominator = weights @ present.T.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), np.nan)
