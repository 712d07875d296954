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

import os
import time
from collections import defaultdict
from collections.abc import Hashable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

ANY = None  # a dimension a cell does not restrict


@contextmanager
def released_without_perturbation(app) -> Iterator[None]:
    """Within: ``app`` releases with the shipped table's perturbations all 0 (a threshold alone), so that a test can
    show that the attack pins cells when the layer's noise is bypassed."""
    from webapp import ptable as ptables

    before = app.config["COMMINTEL_PTABLE_TABLE"]
    app.config["COMMINTEL_PTABLE_TABLE"] = ptables.without_perturbation(ptables.load(ptables.SHIPPED))
    try:
        yield
    finally:
        app.config["COMMINTEL_PTABLE_TABLE"] = before


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
    undecided: list[str] = field(default_factory=list)  # neither freed nor proved pinned within the time limit

    @property
    def pin_rate(self) -> float:
        return len(self.pinned) / self.hidden if self.hidden else 0.0

    def summary(self) -> str:
        undecided = f", {len(self.undecided)} undecided" if self.undecided else ""
        return (
            f"{len(self.pinned)} of {self.hidden} hidden cells pinned{undecided} ({self.cells} released cells, "
            f"{self.atoms} atoms, {self.solves} integer programs, {self.seconds:.1f} s)"
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


def atoms_of(dims: dict[str, Sequence[Hashable]], cells: list[Cell], masks: dict[str, dict[Hashable, int]]) -> set[int]:
    """The distinct sets of cells (bitmasks over ``cells``) that some combination of dimension classes falls in,
    leaving out combinations inside a cell shown as zero. Combinations falling in the same cells are one unknown to the
    attacker, so the enumeration keeps one state per distinct bitmask after each dimension (a dynamic programme over
    the dimensions, not the product of their classes)."""
    order = list(dims)
    zero = 0
    for i, c in enumerate(cells):
        if c.shown.kind == "zero":
            zero |= 1 << i
    # A zero cell can rule a combination out once every dimension it restricts has been chosen.
    decided: list[int] = []
    for level in range(len(order)):
        chosen = set(order[: level + 1])
        m = 0
        for i, c in enumerate(cells):
            if (zero >> i) & 1 and set(c.predicate) <= chosen:
                m |= 1 << i
        decided.append(m)
    states = {(1 << len(cells)) - 1}
    for level, d in enumerate(order):
        class_masks_ = list(dict.fromkeys(masks[d][v] for v in dims[d]))
        states = {new for m in states for cm in class_masks_ if not ((new := m & cm) & decided[level])}
        if os.environ.get("COMMINTEL_ATTACK_DEBUG"):
            print(f"  after {d} ({len(class_masks_)} classes): {len(states)} states", flush=True)  # noqa: T201
    return states


class NotASolution(AssertionError):
    """A proposed alternative world breaks a released cell (or is not whole, non-negative counts)."""


@dataclass
class Program:
    """The attacker's integer program: unknowns (counts of atoms), one row per released cell that is not shown as
    zero (atoms inside a cell shown as zero are left out of the unknowns, so those cells hold 0 by construction), its
    least and greatest possible values, and the true counts."""

    matrix: object  # scipy csr: live cells × atoms, 1 where the cell counts the atom
    lower: object  # numpy arrays, per live cell
    upper: object
    true_x: object  # per atom
    true_values: object  # per live cell

    def check(self, x) -> object:
        """The values of every live cell under ``x`` (counts per atom), after checking that ``x`` is a possible world:
        whole, non-negative counts, and every released cell within what it shows. Raises NotASolution otherwise.
        This is the only way a cell is declared not pinned: a solution found by any shortcut passes through here."""
        import numpy as np

        x = np.asarray(x, dtype=float)
        if x.shape != self.true_x.shape:
            raise NotASolution(f"{x.shape[0]} counts for {self.true_x.shape[0]} atoms")
        if not np.all(np.isfinite(x)) or np.any(x != np.round(x)):
            raise NotASolution("counts must be whole numbers")
        if np.any(x < 0):
            raise NotASolution("counts must not be negative")
        values = self.matrix @ x
        bad = np.nonzero((values < self.lower) | (values > self.upper))[0]
        if len(bad):
            raise NotASolution(f"{len(bad)} released cells out of what they show (row {int(bad[0])})")
        return values

    def check_moves(self, deltas) -> object:
        """For many changes to the true counts at once (an atoms × moves sparse matrix): whether each gives a possible
        world (the same checks as :meth:`check`, every cell), and the cells' values under each."""
        import numpy as np

        # Atoms a move does not touch keep their true counts (checked by check(true_x)); those it touches must stay
        # whole and non-negative.
        changes = deltas.tocoo()
        after = self.true_x[changes.row] + changes.data
        ok = np.ones(deltas.shape[1], dtype=bool)
        ok[changes.col[(after < 0) | (after != np.round(after))]] = False
        values = self.true_values[:, None] + (self.matrix @ deltas).toarray()
        ok &= np.all((values >= self.lower[:, None]) & (values <= self.upper[:, None]), axis=0)
        return ok, values


def _single_moves(a, true_x, lower, upper, true_values, target_of_row) -> list[tuple[int, int]]:
    """One-observation moves (take one from one combination and put it in another, or take one away, or add one)
    that keep every released cell within what it shows and change some hidden cell: at most one per hidden cell,
    as (source, destination) atoms, ``a.shape[1]`` standing for "nowhere". Each is a second solution; the caller
    checks it (Program.check_moves) before it frees any cell.

    ``a`` is the live cells × unknowns incidence matrix. A move from unknown p to q takes one from every cell of p
    not in q and adds one to every cell of q not in p; it is allowed when none of the first may lose one and none of
    the second may gain one. For all destinations at once these are sparse products: the cells of p that may not
    lose, less those of them q also covers, must be none; and the cells of q that may not gain, less those p covers
    too. A hidden cell changes when exactly one of p and q covers it: for each source, one more product counts how
    many allowed destinations cover each cell, and a destination is picked for each cell newly changed."""
    import numpy as np
    from scipy.sparse import csr_matrix, hstack

    n_rows, n_cols = a.shape
    cannot_lose = (true_values - 1 < lower - 1e-9).astype(float)
    cannot_gain = (true_values + 1 > upper + 1e-9).astype(float)
    hidden = np.zeros(n_rows, dtype=bool)
    hidden[list(target_of_row)] = True
    # The last column is "nowhere": an observation taken away, or added.
    full = hstack([a, csr_matrix((n_rows, 1))]).tocsc()
    full_t = full.T.tocsr()
    rows_csr = full.tocsr()
    gain_of = full_t @ cannot_gain  # per destination: its cells that may not gain
    done = np.zeros(n_rows, dtype=bool)
    moves: list[tuple[int, int]] = []
    sources = [j for j in range(n_cols) if true_x[j] >= 1] + [n_cols]
    for p in sources:
        cp = np.zeros(n_rows)
        cp[full[:, p].indices] = 1.0
        lose_bad = (cp * cannot_lose).sum() - full_t @ (cp * cannot_lose)
        gain_bad = gain_of - full_t @ (cp * cannot_gain)
        ok = (np.abs(lose_bad) < 0.5) & (np.abs(gain_bad) < 0.5)
        ok[p] = False
        if p == n_cols:
            ok[n_cols] = False  # nowhere to nowhere is no move
        n_ok = int(ok.sum())
        if not n_ok:
            continue
        covered = full @ ok.astype(float)  # per cell: how many allowed destinations cover it
        in_p = cp > 0.5
        changed = hidden & ~done & ((in_p & (covered < n_ok - 0.5)) | (~in_p & (covered > 0.5)))
        allowed = np.nonzero(ok)[0]
        for r in np.nonzero(changed)[0]:
            if done[r]:
                continue
            cols = rows_csr[r].indices
            # A cell of p changes when q does not cover it; a cell outside p, when q does.
            q = int(allowed[np.isin(allowed, cols) != in_p[r]][0])
            moves.append((p, q))
            for group_row in target_of_row[int(r)]:
                done[group_row] = True
            # The same move may change other hidden cells too: they are freed when it is checked.
            in_q = np.zeros(n_rows, dtype=bool)
            in_q[full[:, q].indices] = True
            done |= hidden & (in_p ^ in_q)
    return moves


def attack(
    dims: dict[str, Sequence[Hashable]],
    cells: list[Cell],
    truth: Iterable[dict[str, Hashable]],
    k: int,
    d: int,
    exact_bounds: bool = False,
    time_limit: float = 600.0,
    step_limit: float = 10.0,
    support: str = "structural",
    max_pinned: int | None = None,
) -> Result:
    """Solve every released cell together; report which cells shown "fewer than k" are pinned to their true count.

    ``truth``: one dict of dimension classes per observation the audience's cells count. With ``exact_bounds`` the
    least and greatest value of every hidden cell is computed (two programs each); otherwise the solver stops for a
    cell as soon as a checked integer solution gives it another value. ``time_limit`` bounds the whole search: a
    cell neither freed nor proved pinned by then is reported *undecided* (a test must treat that as a failure).
    ``max_pinned``: stop once that many cells are found pinned (enough to show a release is broken; the result's
    ``hidden`` still counts every hidden cell).
    """
    import numpy as np
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import bmat, csc_matrix, csr_matrix
    from scipy.sparse.csgraph import connected_components

    started = time.monotonic()
    deadline = started + time_limit
    cells = [c for c in cells if c.shown is not None]
    # One constraint per distinct (definition, display): pages repeat cells.
    unique: dict[tuple, Cell] = {}
    for c in cells:
        key = (tuple(sorted((dim, cls) for dim, cls in c.predicate.items())), c.shown)
        unique.setdefault(key, c)
    cells = list(unique.values())
    per_class = class_masks(dims, cells)
    # Values of a dimension that no released cell tells apart are one class to the attacker (all the LSOAs of a ward
    # whose pages were not read, say): keep one representative of each.
    representative: dict[str, dict] = {}
    merged: dict[str, list] = {}
    for dim, masks_of in per_class.items():
        first_of: dict[int, Hashable] = {}
        representative[dim] = {}
        for value, m in masks_of.items():
            representative[dim][value] = first_of.setdefault(m, value)
        merged[dim] = list(first_of.values())
    dims = {d: merged[d] for d in sorted(merged, key=lambda d: len(merged[d]))}
    everything = (1 << len(cells)) - 1
    truth_masks = []
    for atom in truth:
        m = everything
        for dim in dims:
            m &= per_class[dim][representative[dim][atom[dim]]]
        truth_masks.append(m)
    # support="observed": a stronger attacker than any real one, told which combinations hold observations at all.
    masks = sorted(set(truth_masks)) if support == "observed" else sorted(atoms_of(dims, cells, per_class))
    index = {m: j for j, m in enumerate(masks)}
    true_x = np.zeros(len(masks))
    for m in truth_masks:
        if m not in index:
            raise AssertionError("an observation lies inside a cell shown as zero: the release lied")
        true_x[index[m]] += 1
    zero = 0
    for i, c in enumerate(cells):
        if c.shown.kind == "zero":
            zero |= 1 << i
    if any(m & zero for m in masks):
        raise AssertionError("an unknown lies inside a cell shown as zero")  # such cells are left out of the rows
    live = [i for i, c in enumerate(cells) if c.shown.kind != "zero"]
    row_of = {i: row for row, i in enumerate(live)}
    rows_idx, cols_idx = [], []
    for j, m in enumerate(masks):
        while m:
            low = m & -m
            i = low.bit_length() - 1
            m ^= low
            rows_idx.append(row_of[i])
            cols_idx.append(j)
    a = csr_matrix((np.ones(len(rows_idx)), (rows_idx, cols_idx)), shape=(len(live), len(masks)))
    lower, upper = [], []
    for i in live:
        lo, hi = _bounds(cells[i].shown, k, d)
        lower.append(lo)
        upper.append(hi)
    lower_arr, upper_arr = np.array(lower, dtype=float), np.array(upper, dtype=float)
    true_values = a @ true_x
    program = Program(a, lower_arr, upper_arr, true_x, true_values)
    # The model against the test's own counting: the true counts reproduce every cell's true set of observations
    # (computed from the cells' definitions, not from the atoms), and they are a solution.
    for row, i in enumerate(live):
        if cells[i].truth and int(true_values[row]) != len(cells[i].truth):
            raise AssertionError(f"{cells[i].where}: the program counts {int(true_values[row])}, the page's "
                                 f"definition {len(cells[i].truth)}")  # fmt: skip
    program.check(true_x)
    hidden_rows = [row for row, i in enumerate(live) if cells[i].shown.kind == "hidden"]
    # Distinct hidden cells: those with the same atoms are the same unknown.
    by_atoms: dict[tuple, list[int]] = defaultdict(list)
    for row in hidden_rows:
        by_atoms[tuple(a[row].indices)].append(row)
    targets = list(by_atoms.values())
    true_of = {row: float(true_values[row]) for row in hidden_rows}
    free: set[int] = set()
    solves = 0
    result_bounds: dict[str, tuple[int, int, int]] = {}
    columns = a.tocsc()
    target_of_row = {r: rows for rows in targets for r in rows}
    debug = bool(os.environ.get("COMMINTEL_ATTACK_DEBUG"))
    hidden_arr = np.array(hidden_rows, dtype=int)

    def freed_by(values) -> None:
        """Every hidden cell whose value under a checked solution differs from its true count is not pinned."""
        for r in hidden_arr[np.abs(values[hidden_arr] - true_values[hidden_arr]) > 0.5]:
            free.update(target_of_row[int(r)])

    def try_solution(x) -> bool:
        try:
            values = program.check(x)
        except NotASolution:
            return False
        freed_by(values)
        return True

    def local_move(row: int, variables: np.ndarray, sign: float, limit: float, small: bool = False) -> bool | None:
        """Whether ``row`` can move below (sign 1) or above (sign -1) its true value when only ``variables`` change
        from the true counts and every cell they touch stays within what it shows. A solution found is a solution of
        the whole problem (the other cells keep their true counts); it is checked against every cell before it
        frees any. The search is a feasibility problem (HiGHS stops at the first solution). None: no answer within
        ``limit`` seconds."""
        nonlocal solves
        solves += 1
        rows = np.unique(columns[:, variables].indices)
        sub = a[rows][:, variables]
        base = true_values[rows]
        target = a[[row]][:, variables]
        constraints = [LinearConstraint(sub, lower_arr[rows] - base, upper_arr[rows] - base)]
        if sign > 0:
            constraints.append(LinearConstraint(target, -np.inf, -1))
        else:
            constraints.append(LinearConstraint(target, 1, np.inf))
        bounds_ = Bounds(-true_x[variables], np.full(len(variables), np.inf))

        def whole(change) -> np.ndarray:
            x = true_x.copy()
            x[variables] += change
            return x

        # The continuous relaxation first: infeasible there means no integer move either; a vertex it finds is often
        # integral already (the cells are sums of unknowns), and any integral point that passes the check is a proof.
        # Only otherwise is the integer program solved.
        t_lp = time.monotonic()
        relaxed = milp(np.zeros(len(variables)), constraints=constraints, bounds=bounds_,
                       options={"time_limit": max(limit, 0.1)})  # fmt: skip
        if debug:
            print(f"      relaxation {relaxed.status} {time.monotonic() - t_lp:.1f} s", flush=True)  # noqa: T201
        if relaxed.status == 2:
            return False
        if relaxed.x is not None and try_solution(whole(np.round(relaxed.x))) and row in free:
            return True
        if relaxed.x is not None and not small:
            # The relaxation's vertex changes few unknowns: the integer program over those and the ones that hold
            # observations is much smaller and often feasible (any solution of it is one of the whole problem).
            near = np.nonzero(np.abs(relaxed.x) > 1e-9)[0]
            subset = np.union1d(variables[near], np.intersect1d(variables, observed_arr))
            if len(subset) < len(variables) and local_move(row, subset, sign, min(limit, step_limit), small=True):
                return True
        res = milp(
            np.zeros(len(variables)),
            constraints=constraints,
            integrality=np.ones(len(variables)),
            bounds=bounds_,
            options={"time_limit": max(limit, 0.1)},
        )
        if debug:
            print(f"      integer {res.status} {time.monotonic() - t_lp:.1f} s", flush=True)  # noqa: T201
        if res.status == 2:  # infeasible: no such move among these unknowns
            return False
        if res.x is None:  # no answer in the time given
            return None
        if not try_solution(whole(np.round(res.x))):
            raise AssertionError(f"the attack's integer program gave a solution that breaks a cell ({res.message})")
        return True

    def local_range(row: int, variables: np.ndarray, sign: float) -> float:
        """The furthest ``row`` can move from its true value (down for sign 1, up for -1) over ``variables``."""
        nonlocal solves
        solves += 1
        rows = np.unique(columns[:, variables].indices)
        sub = a[rows][:, variables]
        base = true_values[rows]
        res = milp(
            sign * np.asarray(a[row, variables].todense()).ravel(),
            constraints=LinearConstraint(sub, lower_arr[rows] - base, upper_arr[rows] - base),
            integrality=np.ones(len(variables)),
            bounds=Bounds(-true_x[variables], np.full(len(variables), np.inf)),
            options={"time_limit": time_limit},
        )
        if res.x is None:
            raise AssertionError(f"the attack's integer program has no solution ({res.message}); the model is wrong")
        return float(np.asarray(a[row, variables].todense()).ravel() @ np.round(res.x))

    sizes = np.diff(a.indptr)

    # Cells that share no unknown, directly or through other cells, cannot constrain each other: the program splits
    # into connected components (cells and unknowns joined where a cell counts an unknown), and a hidden cell's
    # least and greatest values depend only on its own component. Unknowns that no released cell counts are
    # components of their own, left out.
    n_live = a.shape[0]
    observed = {int(j) for j in np.nonzero(true_x)[0]}
    observed_arr = np.array(sorted(observed), dtype=int)
    _, component = connected_components(bmat([[None, a], [a.T, None]]).tocsr(), directed=False)
    component_of_row, component_of_col = component[:n_live], component[n_live:]

    def neighbourhoods(row: int):
        """Ever larger sets of unknowns around a hidden cell: its own atoms, then roughly doubling each time by
        adding the atoms of the smallest cells that share some of them, and at last every unknown of its component
        (the last set is the whole problem as far as the cell is concerned: the other components cannot change it).
        Each set but the last comes with a short time limit: an inconclusive answer there only means a larger set
        is tried."""
        whole = np.nonzero(component_of_col == component_of_row[row])[0]
        # First the cell's own unknowns with those that hold observations (a move among them is a move of the
        # whole problem, and the few hundred of them often suffice).
        own = set(a[row].indices) | (observed & set(whole.tolist()))
        if len(own) < len(whole):
            yield np.array(sorted(own)), step_limit, False
        while len(own) < len(whole):
            touching = np.unique(columns[:, sorted(own)].indices)
            goal = max(2 * len(own), len(own) + 50)
            grown = set(own)
            for r in sorted(touching, key=lambda r: sizes[r]):
                grown.update(a[r].indices)
                if len(grown) >= goal:
                    break
            if len(grown) == len(own):
                break
            own = grown
            if len(own) < len(whole):
                yield np.array(sorted(own)), step_limit, False
        yield whole, None, True

    if debug:
        print(f"  matrix {a.shape} built at {time.monotonic() - started:.1f} s", flush=True)  # noqa: T201
    if not exact_bounds:
        moves = _single_moves(a, true_x, lower_arr, upper_arr, true_values, target_of_row)
        if moves:
            n_cols = a.shape[1]
            rows_, cols_, vals_ = [], [], []
            for m, (p, q) in enumerate(moves):
                for j, v in ((p, -1.0), (q, 1.0)):
                    if j < n_cols:
                        rows_.append(j)
                        cols_.append(m)
                        vals_.append(v)
            deltas = csc_matrix((vals_, (rows_, cols_)), shape=(n_cols, len(moves)))
            for start in range(0, len(moves), 256):
                ok, values = program.check_moves(deltas[:, start : start + 256])
                for column in np.nonzero(ok)[0]:
                    freed_by(values[:, column])
        if debug:
            print(  # noqa: T201
                f"  {len(moves)} one-observation moves free {len(free)} at {time.monotonic() - started:.1f} s",
                flush=True,
            )

    pinned: list[str] = []
    undecided: list[str] = []
    for rows in targets:
        row = rows[0]
        t0 = time.monotonic()
        if row in free and not exact_bounds:
            continue
        true = true_of[row]
        if exact_bounds:
            everything = np.nonzero(component_of_col == component_of_row[row])[0]
            low, high = true + local_range(row, everything, 1.0), true + local_range(row, everything, -1.0)
            result_bounds[cells[live[row]].where] = (int(low), int(high), int(true))
            if low == high == true:
                pinned += [cells[live[r]].where for r in rows]
            continue
        # Directions the cell could move in at all (a hidden 1 cannot go down, a hidden k-1 cannot go up).
        signs = [s for s, possible in ((1.0, true > lower_arr[row]), (-1.0, true < upper_arr[row])) if possible]
        answers = dict.fromkeys(signs)
        for variables, limit, is_whole in neighbourhoods(row):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            limit = left if limit is None else min(limit, left)
            if debug:
                print(f"    {len(variables)} unknowns at {time.monotonic() - t0:.1f} s", flush=True)  # noqa: T201
            for s in signs:
                answer = local_move(row, variables, s, limit)
                if answer:
                    break
                if is_whole:
                    answers[s] = answer  # only the whole component's "no" is a proof
            if row in free:
                break
        if row not in free:
            if all(answers[s] is False for s in signs):  # no direction possible: pinned
                pinned += [cells[live[r]].where for r in rows]
            else:
                undecided += [cells[live[r]].where for r in rows]
        if debug and time.monotonic() - t0 > 0.5:
            print(f"  target {cells[live[row]].where}: {time.monotonic() - t0:.1f} s", flush=True)  # noqa: T201
        if max_pinned is not None and len(pinned) >= max_pinned:
            break
    return Result(
        cells=len(cells),
        hidden=len(hidden_rows),
        pinned=pinned,
        atoms=len(masks),
        solves=solves,
        seconds=time.monotonic() - started,
        bounds=result_bounds,
        undecided=undecided,
    )
