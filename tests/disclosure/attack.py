"""A differencing attack on released counts, solved as an integer program (``scipy.optimize.milp``, HiGHS).

What the attacker knows: the definition of every released cell (which areas, dates, categories, kinds, themes,
organisations it counts) and what it shows. A cell shown "fewer than k" holds 1..k-1 observations, a cell shown 0
holds none, and a cell shown v (v ≥ k) holds between max(k, v − D) and v + D, D being the largest perturbation of the
published perturbation table. What the attacker does not know: how many observations fall in each combination of
attributes. The unknowns are therefore the counts of every *combination of attribute classes* that the released
cells can tell apart (an "atom"), not only those that really hold observations: an attacker who knew which
combinations are empty would know far more than the pages say. Combinations inside a cell shown as zero are known to
be empty and dropped.

For each cell shown "fewer than k" the solver looks for its least and greatest possible value over every integer
solution of all the constraints together. The cell is **pinned** when both equal its true count: the attacker has
worked out a number that was meant to stay hidden.

The module is plain Python over plain data, so the suite (pages of the demo and of a seeded fixture) and
``benchmarks/disclosure_attack.py`` (many seeds) use the same solver.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field

ANY = None  # a dimension a cell does not restrict


@dataclass(frozen=True)
class Shown:
    """What a page showed for one cell: ``kind`` is "zero", "hidden" (fewer than k) or "value"."""

    kind: str
    value: int | None = None

    @classmethod
    def parse(cls, text: str, k: int) -> Shown | None:
        """The display text of a released count ("0", "fewer than 5", "<5", "1,234", "none"); None for anything that
        is not a count (e.g. "not shown")."""
        t = " ".join(text.replace("\u00a0", " ").split()).lower()
        if t in ("0", "none", "no"):
            return cls("zero", 0)
        if t in (f"fewer than {k}", f"<{k}", f"&lt;{k}"):
            return cls("hidden")
        digits = t.replace(",", "")
        if digits.isdigit():
            return cls("value", int(digits)) if int(digits) else cls("zero", 0)
        return None

    def __str__(self) -> str:
        return {"zero": "0", "hidden": "fewer than k"}.get(self.kind, str(self.value))


@dataclass
class Cell:
    """A released count: its definition (dimension → set of classes it counts; absent = all) and what was shown."""

    where: str  # page and position, for reports
    predicate: dict[str, frozenset]
    shown: Shown
    truth: frozenset = frozenset()  # ids of the observations it really counts (the test's own computation)

    def contains(self, atom: dict[str, Hashable]) -> bool:
        return all(atom[d] in classes for d, classes in self.predicate.items())


@dataclass
class Result:
    cells: int  # released cells given to the solver
    hidden: int  # distinct cells shown "fewer than k"
    pinned: list[str]  # where the pinned ones were shown
    atoms: int
    solves: int
    seconds: float
    bounds: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # where → (min, max, true) when computed

    @property
    def pin_rate(self) -> float:
        return len(self.pinned) / self.hidden if self.hidden else 0.0

    def summary(self) -> str:
        return (
            f"{len(self.pinned)} of {self.hidden} hidden cells pinned ({self.cells} released cells, {self.atoms} "
            f"atoms, {self.solves} integer programs, {self.seconds:.1f} s)"
        )


class InconsistentRelease(AssertionError):
    """The same set of observations was shown with two different values to one audience."""


def check_consistency(cells: Iterable[Cell]) -> dict[frozenset, Shown]:
    """Every set of observations shows one value, whatever page it is on; raises InconsistentRelease otherwise."""
    seen: dict[frozenset, tuple[Shown, str]] = {}
    for cell in cells:
        before = seen.get(cell.truth)
        if before is None:
            seen[cell.truth] = (cell.shown, cell.where)
        elif before[0] != cell.shown:
            raise InconsistentRelease(
                f"the same {len(cell.truth)} observations show {before[0]} at {before[1]} but {cell.shown} at "
                f"{cell.where}"
            )
    return {truth: shown for truth, (shown, _) in seen.items()}


def check_truthful(cells: Iterable[Cell], k: int, d: int) -> None:
    """What is shown agrees with the method: zero only for zero, "fewer than k" only for 1..k-1, a value only for a
    true count of at least k, within D of it and never below k (else the attacker's model would be wrong)."""
    for cell in cells:
        n = len(cell.truth)
        s = cell.shown
        ok = (
            (s.kind == "zero" and n == 0)
            or (s.kind == "hidden" and 0 < n < k)
            or (s.kind == "value" and n >= k and s.value >= k and abs(s.value - n) <= d)
        )
        if not ok:
            raise AssertionError(f"{cell.where} shows {s} for a true count of {n} (k={k}, D={d})")


def _bounds(shown: Shown, k: int, d: int) -> tuple[int, float]:
    if shown.kind == "zero":
        return 0, 0
    if shown.kind == "hidden":
        return 1, k - 1
    return max(k, shown.value - d), shown.value + d


def class_masks(dims: dict[str, Sequence[Hashable]], cells: list[Cell]) -> dict[str, dict[Hashable, int]]:
    """For each dimension and class: the cells containing that class, as a bitmask over ``cells`` (a cell that does
    not restrict the dimension contains every class of it)."""
    order = list(dims)
    masks: dict[str, dict[Hashable, int]] = {}
    for d in order:
        unrestricted = 0
        for i, c in enumerate(cells):
            if d not in c.predicate:
                unrestricted |= 1 << i
        per_class = {}
        for value in dims[d]:
            m = unrestricted
            for i, c in enumerate(cells):
                if d in c.predicate and value in c.predicate[d]:
                    m |= 1 << i
            per_class[value] = m
        masks[d] = per_class
    return masks


def atoms_of(
    dims: dict[str, Sequence[Hashable]], cells: list[Cell], masks: dict[str, dict[Hashable, int]]
) -> dict[int, list[tuple]]:
    """Every combination of dimension classes not inside a cell shown as zero, grouped by the set of cells that
    contain it (as a bitmask over ``cells``): ``{mask: [atom, ...]}`` (atoms as tuples in ``dims`` order)."""
    order = list(dims)
    everything = (1 << len(cells)) - 1
    zero = 0
    for i, c in enumerate(cells):
        if c.shown.kind == "zero":
            zero |= 1 << i
    # A zero cell can rule a partial combination out once every dimension it restricts has been chosen.
    decided: list[int] = []
    for level in range(len(order)):
        chosen = set(order[: level + 1])
        m = 0
        for i, c in enumerate(cells):
            if (zero >> i) & 1 and set(c.predicate) <= chosen:
                m |= 1 << i
        decided.append(m)
    groups: dict[int, list[tuple]] = defaultdict(list)
    stack: list[tuple[int, tuple, int]] = [(0, (), everything)]
    while stack:
        level, partial, mask = stack.pop()
        d = order[level]
        for value, m in masks[d].items():
            new = mask & m
            if new & decided[level]:
                continue  # inside a cell shown as zero
            if level + 1 == len(order):
                groups[new].append((*partial, value))
            else:
                stack.append((level + 1, (*partial, value), new))
    return groups


def attack(
    dims: dict[str, Sequence[Hashable]],
    cells: list[Cell],
    truth: Iterable[dict[str, Hashable]],
    k: int,
    d: int,
    exact_bounds: bool = False,
    time_limit: float = 600.0,
) -> Result:
    """Solve every released cell together; report which cells shown "fewer than k" are pinned to their true count.

    ``truth``: one dict of dimension classes per observation the audience's cells count. With ``exact_bounds`` the
    least and greatest value of every hidden cell is computed (two programs each); otherwise the solver stops for a
    cell as soon as two different values are possible.
    """
    import numpy as np
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import csr_matrix

    started = time.monotonic()
    cells = [c for c in cells if c.shown is not None]
    # One constraint per distinct (definition, display): pages repeat cells.
    unique: dict[tuple, Cell] = {}
    for c in cells:
        key = (tuple(sorted((dim, cls) for dim, cls in c.predicate.items())), c.shown)
        unique.setdefault(key, c)
    cells = list(unique.values())
    per_class = class_masks(dims, cells)
    groups = atoms_of(dims, cells, per_class)
    masks = list(groups)
    index = {m: j for j, m in enumerate(masks)}
    true_x = np.zeros(len(masks))
    everything = (1 << len(cells)) - 1
    for atom in truth:
        m = everything
        for dim in dims:
            m &= per_class[dim][atom[dim]]
        if m not in index:
            raise AssertionError(f"an observation {atom} lies inside a cell shown as zero: the release lied")
        true_x[index[m]] += 1
    live = [i for i, c in enumerate(cells) if c.shown.kind != "zero"]
    row_of = {i: row for row, i in enumerate(live)}
    rows_idx, cols_idx = [], []
    for j, m in enumerate(masks):
        while m:
            low = m & -m
            i = low.bit_length() - 1
            m ^= low
            if i in row_of:
                rows_idx.append(row_of[i])
                cols_idx.append(j)
    a = csr_matrix((np.ones(len(rows_idx)), (rows_idx, cols_idx)), shape=(len(live), len(masks)))
    lower, upper = [], []
    for i in live:
        lo, hi = _bounds(cells[i].shown, k, d)
        lower.append(lo)
        upper.append(hi)
    constraint = LinearConstraint(a, np.array(lower, dtype=float), np.array(upper, dtype=float))
    integrality = np.ones(len(masks))
    bounds = Bounds(np.zeros(len(masks)), np.full(len(masks), np.inf))
    hidden_rows = [row for row, i in enumerate(live) if cells[i].shown.kind == "hidden"]
    # Distinct hidden cells: those with the same atoms are the same unknown.
    by_atoms: dict[tuple, list[int]] = defaultdict(list)
    for row in hidden_rows:
        by_atoms[tuple(a[row].indices)].append(row)
    targets = list(by_atoms.values())
    true_values = a @ true_x
    true_of = {row: float(true_values[row]) for row in hidden_rows}
    free: set[int] = set()
    solves = 0
    result_bounds: dict[str, tuple[int, int, int]] = {}

    def solve(c: np.ndarray, integral: bool = True) -> np.ndarray:
        nonlocal solves
        solves += 1
        res = milp(
            c,
            constraints=constraint,
            integrality=integrality if integral else None,
            bounds=bounds,
            options={"time_limit": time_limit},
        )
        if res.x is None:
            raise AssertionError(f"the attack's integer program has no solution ({res.message}); the model is wrong")
        if not integral:
            return a @ res.x
        values = a @ np.round(res.x)
        for rows in targets:
            if values[rows[0]] != true_of[rows[0]]:
                free.update(rows)
        return values

    def row_vector(row: int) -> np.ndarray:
        return np.asarray(a[row].todense()).ravel()

    # Every integer solution that moves a hidden cell off its true value proves that cell is not pinned (the true
    # counts are a solution too). Push all undecided cells down together, then up, then in random mixtures; only
    # the cells still undecided are examined one by one.
    if not exact_bounds:
        rng = np.random.default_rng(0)
        for attempt in range(6):
            todo = [rows[0] for rows in targets if rows[0] not in free]
            if not todo:
                break
            before = len(free)
            signs = [1.0 if attempt == 0 else -1.0 if attempt == 1 else rng.choice([-1.0, 1.0]) for _ in todo]
            solve(sum(s * row_vector(r) for s, r in zip(signs, todo, strict=True)))
            if attempt >= 2 and len(free) == before:
                break

    pinned: list[str] = []
    for rows in targets:
        row = rows[0]
        if row in free and not exact_bounds:
            continue
        objective = row_vector(row)
        true = true_of[row]
        if not exact_bounds:
            # The continuous relaxation bounds the integer range from outside: a single value there is a pin.
            low_lp, high_lp = solve(objective, integral=False)[row], solve(-objective, integral=False)[row]
            if np.ceil(low_lp - 1e-6) >= true and np.floor(high_lp + 1e-6) <= true:
                pinned += [cells[live[r]].where for r in rows]
                continue
        low = solve(objective)[row]
        high = None
        if exact_bounds or low == true:
            high = solve(-objective)[row]
        if exact_bounds:
            result_bounds[cells[live[row]].where] = (int(low), int(high), int(true))
        if low == high == true:
            pinned += [cells[live[r]].where for r in rows]
    return Result(
        cells=len(cells),
        hidden=len(hidden_rows),
        pinned=pinned,
        atoms=len(masks),
        solves=solves,
        seconds=time.monotonic() - started,
        bounds=result_bounds,
    )
