"""The perturbation table of the cell key method: how it is read (at start-up) and how it is made (once, offline).

A perturbation table ("ptable") says, for a true count ``i`` and a cell key ``c`` (the sum of the record keys of the
counted observations, modulo :data:`CELL_KEYS`), by how much the published count differs from the true one. It is a
CSV file with one row per (count, cell key)::

    count,cell_key,perturbation
    5,0,0
    ...

Rows cover every count from the threshold ``k`` up to a largest count ``M``; every count above ``M`` uses ``M``'s
row (past ``k + D`` the noise no longer depends on the count). The table shipped with commintel
(``webapp/disclosure_data/ptable.csv``) is made by :func:`build` with the parameters in
:data:`SHIPPED_PARAMETERS`; ``python -m webapp.ptable --out FILE`` writes it again (a test checks that it does,
byte for byte).

:func:`build` follows the maximum-entropy construction of the ``ptable`` R package (sdcTools; Giessing 2016,
"Computational issues in the design of transition probabilities and disclosure risk estimation for additive noise",
PSD 2016; Marley & Leaver 2011): for each true count, the transition probabilities to the counts within ``D`` of it
maximise entropy subject to an unbiased perturbation (mean 0), a variance of at most ``V``, probabilities that do not
decrease towards the true count (``mono``), and no published count below the threshold ``k`` (``js = k - 1`` in the
package's terms; commintel shows true counts below ``k`` as "fewer than k" and never perturbs them, and zero stays
zero). The probabilities are then turned into cell-key intervals as the package's ``p_int_lb``/``p_int_ub`` do, on
a grid of :data:`CELL_KEYS` keys.

This module imports nothing from the app; scipy is needed only to build a table, never to read one.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# Record keys are drawn uniformly from 0..CELL_KEYS-1 when an observation is stored; a cell's key is the sum of its
# records' keys modulo CELL_KEYS (ONS Census 2021: 256).
CELL_KEYS = 256
HEADER = ("count", "cell_key", "perturbation")
SHIPPED = Path(__file__).resolve().parent / "disclosure_data" / "ptable.csv"
# The parameters the shipped table was made with (see docs/disclosure.md for how they were chosen).
SHIPPED_PARAMETERS = {"k": 5, "D": 4, "V": 2.0}


class PtableError(ValueError):
    """The perturbation table cannot be used; the message says why (the caller names the setting)."""


@dataclass(frozen=True)
class PerturbationTable:
    """A read, checked perturbation table: ``rows[count - first][cell_key]`` is the perturbation."""

    first: int
    rows: tuple[tuple[int, ...], ...]
    sha256: str
    source: str

    @property
    def largest(self) -> int:
        """The largest count with its own row; larger counts use this row."""
        return self.first + len(self.rows) - 1

    @property
    def max_perturbation(self) -> int:
        """D: the largest change the table makes to any count (published with every figure's method note)."""
        return max(abs(v) for row in self.rows for v in row)

    @property
    def identifier(self) -> str:
        """A short name of this table's content, recorded with every edition released through it."""
        return self.sha256[:12]

    def perturbation(self, count: int, cell_key: int) -> int:
        if count < self.first:
            raise ValueError(f"the table starts at count {self.first}; {count} is below it")
        row = self.rows[min(count, self.largest) - self.first]
        return row[cell_key % CELL_KEYS]

    def check(self, k: int) -> None:
        """Raise PtableError unless the table can release counts with threshold ``k``: a row for every count from k,
        and no count of k or more ever published below k (nor at zero)."""
        if self.first > k:
            raise PtableError(f"it has no rows for counts {k} to {self.first - 1} (threshold k is {k})")
        for count in range(k, self.largest + 1):
            lowest = count + min(self.rows[count - self.first])
            if lowest < k:
                raise PtableError(
                    f"it would publish a true count of {count} as {lowest}, below the threshold k={k}; build a table "
                    f"for this k (python -m webapp.ptable --k {k})"
                )
        # Counts above the last row use it shifted: its lowest result only grows with the count.

    def distribution(self, count: int) -> dict[int, float]:
        """``{perturbation: probability}`` of a true count, for documentation and tests."""
        row = self.rows[min(count, self.largest) - self.first]
        return {v: row.count(v) / CELL_KEYS for v in sorted(set(row))}


def parse(text: str, source: str = "<text>") -> PerturbationTable:
    """Read a perturbation table from CSV text; raise PtableError saying what is wrong (row numbers 1-based)."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise PtableError("the file is empty") from None
    if tuple(h.strip().lower() for h in header) != HEADER:
        raise PtableError(f"the first row must be {','.join(HEADER)}, not {','.join(header)[:80]}")
    table: dict[int, dict[int, int]] = {}
    for number, row in enumerate(reader, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != 3:
            raise PtableError(f"row {number} has {len(row)} columns, expected 3")
        try:
            count, key, value = (int(cell) for cell in row)
        except ValueError:
            raise PtableError(f"row {number} is not three whole numbers: {','.join(row)[:80]}") from None
        if count < 1:
            raise PtableError(f"row {number}: count {count} must be at least 1 (zero is never perturbed)")
        if not 0 <= key < CELL_KEYS:
            raise PtableError(f"row {number}: cell_key {key} is outside 0..{CELL_KEYS - 1}")
        if count + value < 1:
            raise PtableError(f"row {number}: count {count} would be published as {count + value}")
        if key in table.setdefault(count, {}):
            raise PtableError(f"row {number}: count {count} and cell_key {key} appear twice")
        table[count][key] = value
    if not table:
        raise PtableError("it has no rows")
    first, last = min(table), max(table)
    rows = []
    for count in range(first, last + 1):
        keys = table.get(count)
        if keys is None:
            raise PtableError(f"counts must run without gaps; count {count} is missing")
        if len(keys) != CELL_KEYS:
            raise PtableError(f"count {count} has {len(keys)} cell keys, expected all {CELL_KEYS} (0..{CELL_KEYS - 1})")
        rows.append(tuple(keys[c] for c in range(CELL_KEYS)))
    return PerturbationTable(first, tuple(rows), hashlib.sha256(text.encode()).hexdigest(), source)


def load(path: str | Path) -> PerturbationTable:
    """Read and parse the CSV at ``path``; PtableError when it is missing, unreadable or malformed."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PtableError(f"no file at {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PtableError(f"cannot read {path}: {exc}") from None
    return parse(text, str(path))


# Building a table ---------------------------------------------------------------------------------------------------


def transition_probabilities(count: int, k: int, d: int, v: float) -> dict[int, float]:
    """Maximum-entropy noise distribution ``{perturbation: probability}`` of a true ``count`` (at least ``k``).

    As in the ptable package (optim=1, mono=TRUE): maximise entropy subject to probabilities summing to 1, mean
    perturbation 0, variance at most ``v``, each target count at least ``k`` and within ``d`` of ``count``, and
    probabilities that do not decrease from the lowest target up to the true count.
    """
    import numpy as np  # noqa: PLC0415 - heavy: only when a table is generated (ptable CLI), never when serving
    from scipy.optimize import minimize  # noqa: PLC0415 - heavy: only when a table is generated, never when serving

    values = np.arange(max(-d, k - count), d + 1, dtype=float)
    if values[0] == 0:  # nothing below the count is allowed: unbiasedness leaves the count as it is
        return {0: 1.0}
    n = len(values)
    zero = int(np.where(values == 0)[0][0])
    eps = 1e-10

    def neg_entropy(p):
        q = np.maximum(p, eps)
        return float(np.sum(q * np.log(q)))

    def neg_entropy_grad(p):
        return np.log(np.maximum(p, eps)) + 1.0

    constraints = [
        {"type": "eq", "fun": lambda p: np.sum(p) - 1.0, "jac": lambda p: np.ones(n)},
        {"type": "eq", "fun": lambda p: float(values @ p), "jac": lambda p: values},
        {"type": "ineq", "fun": lambda p: v - float((values**2) @ p), "jac": lambda p: -(values**2)},
    ]
    for j in range(zero):  # p[j] <= p[j + 1] below the true count
        constraints.append(
            {
                "type": "ineq",
                "fun": lambda p, j=j: p[j + 1] - p[j],
                "jac": lambda p, j=j: np.eye(n)[j + 1] - np.eye(n)[j],
            }
        )
    start = np.full(n, 1.0 / n)
    start[zero] += 1.0  # a feasible-ish start: most mass on no change
    start /= start.sum()
    result = minimize(
        neg_entropy,
        start,
        jac=neg_entropy_grad,
        bounds=[(0.0, 1.0)] * n,
        constraints=constraints,
        method="SLSQP",
        options={"maxiter": 1000, "ftol": 1e-14},
    )
    if not result.success:
        raise RuntimeError(f"the maximum-entropy problem for count {count} did not solve: {result.message}")
    p = np.clip(result.x, 0.0, None)
    p /= p.sum()
    return {int(val): float(prob) for val, prob in zip(values, p, strict=True)}


def keys_for(probabilities: dict[int, float], keys: int = CELL_KEYS) -> list[int]:
    """The perturbation of each cell key 0..keys-1: consecutive key intervals in order of perturbation, each as wide
    as its probability (the ptable package's p_int_lb/p_int_ub on a grid of ``keys``)."""
    out: list[int] = []
    cumulative = 0.0
    for value, probability in sorted(probabilities.items()):
        cumulative += probability
        upper = min(keys, round(cumulative * keys))
        out += [value] * (upper - len(out))
    out += [max(probabilities)] * (keys - len(out))
    return out


def build(k: int, d: int, v: float, keys: int = CELL_KEYS) -> list[tuple[int, int, int]]:
    """``(count, cell_key, perturbation)`` rows of a table for threshold ``k``, maximum perturbation ``d`` and
    variance ``v``: counts ``k`` to ``k + d`` (the last row holds for every larger count)."""
    rows = []
    for count in range(k, k + d + 1):
        for key, value in enumerate(keys_for(transition_probabilities(count, k, d, v), keys)):
            rows.append((count, key, value))
    return rows


def to_csv(rows: Iterable[tuple[int, int, int]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue()


def without_perturbation(table: PerturbationTable) -> PerturbationTable:
    """The same counts with every perturbation 0: what releasing with the threshold alone amounts to. Never a
    release setting: the attack tests and ``benchmarks/disclosure_attack.py --zeros`` show with it that the attack can
    pin cells, so that 'nothing pinned' with the real table means something."""
    rows = ((count, key, 0) for count in range(table.first, table.largest + 1) for key in range(CELL_KEYS))
    return parse(to_csv(rows), f"{table.source} without perturbation")


def describe(table: PerturbationTable) -> list[str]:
    """Lines describing each row's distribution (mean, variance, probabilities), for docs and the CLI."""
    lines = []
    for count in range(table.first, table.largest + 1):
        dist = table.distribution(count)
        mean = sum(v * p for v, p in dist.items())
        var = sum((v - mean) ** 2 * p for v, p in dist.items())
        cells = ", ".join(f"{v:+d}: {p:.3f}" for v, p in dist.items())
        label = f"{count}+" if count == table.largest else str(count)
        lines.append(f"count {label}: mean {mean:+.3f}, variance {var:.3f}; {cells}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a perturbation table for the cell key method.")
    parser.add_argument("--k", type=int, default=SHIPPED_PARAMETERS["k"], help="threshold k (COMMINTEL_SUPPRESSION_K)")
    parser.add_argument("--d", type=int, default=SHIPPED_PARAMETERS["D"], help="maximum perturbation D")
    parser.add_argument("--v", type=float, default=SHIPPED_PARAMETERS["V"], help="variance V of the perturbation")
    parser.add_argument("--out", type=Path, default=SHIPPED, help="where to write the CSV")
    args = parser.parse_args(argv)
    if args.k < 1 or args.d < 1 or not (0 < args.v < args.d**2) or math.isnan(args.v):
        parser.error("need k >= 1, D >= 1 and 0 < V < D squared")
    text = to_csv(build(args.k, args.d, args.v))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    table = parse(text, str(args.out))
    print(f"Wrote {args.out} (k={args.k}, D={args.d}, V={args.v}; sha256 {table.sha256[:12]}):")
    for line in describe(table):
        print("  " + line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
