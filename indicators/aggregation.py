"""Rolling values up the geography (LSOA → ward → local authority), one documented method per kind of value.

Pure functions on pandas: no Flask, no database. The method per kind (also in docs/indicators.md):

- **count** (reports, people): summed over the areas inside. Areas without a value are left out and named in the
  caveat, so a sum over 7 of 8 LSOAs says so.
- **rate / score** (percentages, rates, index scores): the population-weighted mean when every area inside has a
  known population; otherwise the plain mean of the areas inside, with a caveat saying it is unweighted.
- **rank / decile** (IoD): an average rank means nothing, so the result is the share of the areas inside that sit
  in the most deprived 10% (decile 1) and 20% (deciles 1–2) nationally. Missing deciles are derived from the rank
  when the number of ranked areas (32,844 LSOAs for IoD2019) is known.

Suppressed values (the source withheld them) are never filled in: they count as missing.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import pandas as pd

IOD2019_LSOAS = 32_844

METHODS = {
    "count": "sum of the values of the areas inside",
    "rate": "population-weighted mean of the areas inside",
    "score": "population-weighted mean of the areas inside",
    "rank": "share of the areas inside in the most deprived 10% (decile 1) and 20% (deciles 1–2) nationally",
}


@dataclass(frozen=True)
class Rollup:
    """One aggregated figure for a parent area, with how it was made."""

    value: float | None
    share_10: float | None = None  # ranks only
    share_20: float | None = None
    n_areas: int = 0  # areas inside
    n_used: int = 0  # areas inside that had a value
    method: str = ""
    caveat: str = ""


def decile_from_rank(rank: float, total: int = IOD2019_LSOAS) -> int:
    """Decile 1 = the most deprived 10% of ``total`` ranked areas (rank 1 = most deprived)."""
    return min(10, max(1, math.ceil(rank * 10 / total)))


def _missing_caveat(n_areas: int, n_used: int) -> str:
    missing = n_areas - n_used
    return f"{missing} of {n_areas} areas inside have no value and are left out." if missing else ""


def _number(x) -> float | None:
    if x is None:
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


UNWEIGHTED = (
    "Unweighted average of the areas inside: their populations are not known, so small and large areas count the same."
)


def rollup_rows(
    rows: list[tuple],
    kind: str,
    n_areas: int | None = None,
    total_ranked: int = IOD2019_LSOAS,
) -> Rollup:
    """:func:`rollup` on plain tuples ``(value, rank, decile[, population])``, one per child area (fast for the
    handful of LSOAs in a ward, where pandas costs more than the sums)."""
    n_areas = max(n_areas or 0, len(rows))
    if kind == "rank":
        deciles = []
        for row in rows:
            decile = _number(row[2]) if len(row) > 2 else None
            rank = _number(row[1]) if len(row) > 1 else None
            if decile is None and rank is not None:
                decile = decile_from_rank(rank, total_ranked)
            if decile is not None:
                deciles.append(decile)
        n_used = len(deciles)
        if n_used == 0:
            return Rollup(None, n_areas=n_areas, method=METHODS["rank"], caveat="No area inside has a rank.")
        share_10 = sum(1 for d in deciles if d <= 1) / n_used
        share_20 = sum(1 for d in deciles if d <= 2) / n_used
        return Rollup(share_10, share_10, share_20, n_areas, n_used, METHODS["rank"], _missing_caveat(n_areas, n_used))
    present = [(v, _number(row[3]) if len(row) > 3 else None) for row in rows if (v := _number(row[0])) is not None]
    n_used = len(present)
    caveat = _missing_caveat(n_areas, n_used)
    if n_used == 0:
        return Rollup(None, n_areas=n_areas, method=METHODS.get(kind, ""), caveat="No area inside has a value.")
    if kind == "count":
        total = float(sum(v for v, _ in present))
        return Rollup(total, n_areas=n_areas, n_used=n_used, method=METHODS["count"], caveat=caveat)
    populations = [p for _, p in present if p is not None]
    if len(populations) == n_used and sum(populations) > 0:
        weighted = sum(v * p for v, p in present if p is not None) / sum(populations)
        return Rollup(weighted, n_areas=n_areas, n_used=n_used, method=METHODS[kind], caveat=caveat)
    return Rollup(
        sum(v for v, _ in present) / n_used,
        n_areas=n_areas,
        n_used=n_used,
        method="mean of the areas inside (unweighted)",
        caveat=" ".join(c for c in (UNWEIGHTED, caveat) if c),
    )


def rollup_periods(
    rows: Iterable[tuple],
    kind: str,
    n_areas: int | None = None,
    total_ranked: int = IOD2019_LSOAS,
) -> list[tuple[str, date, Rollup]]:
    """Per period, in time order: :func:`rollup_rows` of one indicator's values for the areas inside one parent.

    ``rows`` are ``(period_start, period_key, value, rank, decile)``, one per child area and period. The area page's
    figure for a ward and the briefing's indicator figures are both made here, so they are the same figure."""
    groups: dict[tuple[date, str], list[tuple]] = defaultdict(list)
    for start, key, *row in rows:
        groups[(start, key)].append(tuple(row))
    return [
        (key, start, rollup_rows(children, kind, n_areas, total_ranked))
        for (start, key), children in sorted(groups.items())
    ]


def rollup(
    values: pd.DataFrame,
    kind: str,
    n_areas: int | None = None,
    total_ranked: int = IOD2019_LSOAS,
) -> Rollup:
    """Aggregate the child values of one parent.

    ``values`` has columns ``value`` (float or NaN), optionally ``rank``, ``decile`` and ``population``; one row per
    child area (children without any value may be absent: pass ``n_areas`` to say how many there are).
    """
    n = len(values)

    def column(name: str) -> list:
        return values[name].tolist() if name in values else [None] * n

    rows = list(zip(column("value"), column("rank"), column("decile"), column("population"), strict=True))
    return rollup_rows(rows, kind, n_areas, total_ranked)


def rollup_frame(
    values: pd.DataFrame,
    parents: pd.Series,
    kind: str,
    total_ranked: int = IOD2019_LSOAS,
) -> pd.DataFrame:
    """Aggregate many parents at once (vectorised; the same methods and caveats as :func:`rollup`).

    ``values``: one row per child area, index = child area code, columns as for :func:`rollup`.
    ``parents``: child area code → parent area code, for every child (also those without values, so that the
    caveat can count them). Returns one row per parent: value, share_10, share_20, n_areas, n_used, method, caveat.
    """
    counts = parents.value_counts().sort_index()
    joined = values.join(parents.rename("parent"), how="inner")
    out = pd.DataFrame(index=counts.index)
    out["n_areas"] = counts
    weighted = False
    if kind == "rank":
        decile = _deciles(joined, total_ranked)
        joined = joined.assign(
            _d=decile, _d10=(decile <= 1).where(decile.notna()), _d20=(decile <= 2).where(decile.notna())
        )
        grouped = joined.groupby("parent")
        out["share_10"] = grouped["_d10"].mean()
        out["share_20"] = grouped["_d20"].mean()
        out["n_used"] = grouped["_d"].count()
        out["value"] = out["share_10"]
    else:
        joined = joined.assign(value=pd.to_numeric(joined["value"], errors="coerce"))
        grouped = joined.groupby("parent")
        out["n_used"] = grouped["value"].count()
        out["share_10"] = out["share_20"] = float("nan")
        if kind == "count":
            out["value"] = grouped["value"].sum(min_count=1)
        else:
            population = pd.to_numeric(joined["population"], errors="coerce") if "population" in joined else None
            present = joined["value"].notna()
            weighted = population is not None and population[present].notna().all() and population[present].sum() > 0
            if population is not None and weighted:
                w = joined.assign(_w=joined["value"] * population, _p=population.where(present)).groupby("parent")
                out["value"] = w["_w"].sum(min_count=1) / w["_p"].sum(min_count=1)
            else:
                out["value"] = grouped["value"].mean()
    out["n_used"] = out["n_used"].fillna(0).astype(int)
    method = METHODS.get(kind, "") if kind in ("rank", "count") or weighted else "mean of the areas inside (unweighted)"
    out["method"] = method
    caveats = []
    for n_areas, n_used in zip(out["n_areas"], out["n_used"], strict=True):
        parts = []
        if n_used == 0:
            parts.append("No area inside has a value.")
        else:
            if kind in ("rate", "score") and not weighted:
                parts.append(UNWEIGHTED)
            parts.append(_missing_caveat(int(n_areas), int(n_used)))
        caveats.append(" ".join(p for p in parts if p))
    out["caveat"] = caveats
    return out[["value", "share_10", "share_20", "n_areas", "n_used", "method", "caveat"]]


def _deciles(values: pd.DataFrame, total_ranked: int) -> pd.Series:
    decile = pd.to_numeric(values["decile"], errors="coerce") if "decile" in values else None
    if "rank" in values:
        scaled = pd.to_numeric(values["rank"], errors="coerce") * 10 / total_ranked
        from_rank = scaled.map(lambda x: min(10, max(1, math.ceil(x))) if pd.notna(x) else float("nan"))
        decile = from_rank if decile is None else decile.fillna(from_rank)
    return decile if decile is not None else pd.Series(float("nan"), index=values.index)


def series(values: pd.DataFrame, kind: str, total_ranked: int = IOD2019_LSOAS) -> pd.DataFrame:
    """The aggregated value per period, vectorised (for trend lines); same methods as :func:`rollup`.

    ``values``: one row per child area and period, columns ``period_key``, ``period_start``, ``value`` and, as for
    :func:`rollup`, optionally ``rank``, ``decile``, ``population``. Returns ``period_key, period_start, value``
    in time order (for ranks, ``value`` is the share in the most deprived 10%).
    """
    frame = values.copy()
    keys = ["period_start", "period_key"]
    if kind == "rank":
        decile = (
            pd.to_numeric(frame["decile"], errors="coerce")
            if "decile" in frame
            else pd.Series(float("nan"), index=frame.index)
        )
        if "rank" in frame:
            from_rank = (pd.to_numeric(frame["rank"], errors="coerce") * 10 / total_ranked).apply(
                lambda x: min(10, max(1, math.ceil(x))) if pd.notna(x) else float("nan")
            )
            decile = decile.fillna(from_rank)
        frame["_d10"] = (decile <= 1).where(decile.notna())
        out = frame.groupby(keys, sort=True)["_d10"].mean()
    else:
        frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
        if kind == "count":
            out = frame.groupby(keys, sort=True)["value"].sum(min_count=1)
        elif "population" in frame and pd.to_numeric(frame["population"], errors="coerce").notna().all():
            frame["_w"] = frame["value"] * frame["population"]
            frame["_p"] = frame["population"].where(frame["value"].notna())
            grouped = frame.groupby(keys, sort=True)
            out = grouped["_w"].sum(min_count=1) / grouped["_p"].sum(min_count=1)
        else:
            out = frame.groupby(keys, sort=True)["value"].mean()
    return out.rename("value").reset_index()
