"""Theme figures other packages build on (area profiles, briefings): counts by theme, month, area and kind.

Counts returned here are :class:`webapp.disclosure.Tally` values (count and record-key sum) so that callers can add
them up; anything shown to a person (screen, PDF, export, API) goes through ``webapp.disclosure.release`` first, and
counts not released as a number are left out of charts.

Only a partnership's *shared, live, redacted* observations count (``submissions.queries.partnership_observations``),
as the reader's audience counts them (its sharing levels; the partnership's people by default), under its *active*
theme model, in visible (not hidden, not merged) themes.

Rising / falling (:func:`trend`): the count of the last 3 complete months is compared with the 3 months before.
If observations arrived at a steady rate, the share of the 6 months' observations falling in the recent 3 months is
Binomial(n, 0.5); a two-sided exact binomial test with p < 0.05 marks the theme rising (more recently) or falling.
Fewer than 10 observations over the 6 months are too few to say (``"too few"``), so that a small theme is never
flagged on noise. The test runs on the two counts *as released* (perturbed; "too few" when either is below k), so a
trend says nothing about a count that the counts shown do not.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from nlp.models import Theme, ThemeAssignment, ThemeModel, active_model
from submissions.models import Observation, ObservationKind
from submissions.queries import partnership_observations
from webapp.disclosure import Audience, Released, Tally, release
from webapp.extensions import db
from webapp.models import Area, Partnership

TREND_MONTHS = 3
TREND_ALPHA = 0.05
TREND_MIN_COUNT = 10


def month_start(d: date) -> date:
    return date(d.year, d.month, 1)


def add_months(d: date, n: int) -> date:
    y, m = divmod(d.month - 1 + n, 12)
    return date(d.year + y, m + 1, 1)


def _base(
    partnership: Partnership,
    kind: ObservationKind | str | None,
    start: date | None,
    end: date | None,
    audience: Audience = Audience.PARTNERSHIP,
):
    model = active_model(partnership.id)
    if model is None:
        return None
    shared = partnership_observations(partnership, audience).with_only_columns(Observation.id).order_by(None).subquery()
    stmt = (
        select(
            ThemeAssignment.theme_id,
            Observation.period_start,
            Observation.area_id,
            Observation.kind,
            Observation.record_key,
        )
        .join(Observation, Observation.id == ThemeAssignment.observation_id)
        .join(shared, shared.c.id == Observation.id)
        .join(Theme, Theme.id == ThemeAssignment.theme_id)
        .where(
            ThemeAssignment.model_id == model.id,
            ThemeAssignment.theme_id.is_not(None),
            Theme.hidden.is_(False),
            Theme.merged_into_id.is_(None),
        )
    )
    if kind is not None:
        stmt = stmt.where(Observation.kind == ObservationKind(kind))
    if start is not None:
        stmt = stmt.where(Observation.period_start >= start)
    if end is not None:
        stmt = stmt.where(Observation.period_start < end)
    return stmt


def _counted_rows(
    partnership: Partnership, audience: Audience
) -> list[tuple[int, date, int | None, ObservationKind, int]] | None:
    """``(theme id, period start, area id, kind, record key)`` of every observation ``audience`` counts under the
    active model, in visible themes (None: no model). Read once per request and partnership: an area page or a
    theme page asked for the same rows eight to ten times, filtered by kind and period (at a million observations
    each read cost 30-70 ms, most of those pages' time, see benchmarks/scale.py). Every count below is the same
    filter and the same exact sum over these rows as the SQL it replaced, so the same tallies and released values.
    Outside a request nothing is kept."""
    from flask import has_request_context, request

    cache = {}
    if has_request_context():
        cache = request._get_current_object().__dict__.setdefault("commintel_theme_rows", {})
    key = (partnership.id, audience)
    if key not in cache:
        stmt = _base(partnership, None, None, None, audience)
        cache[key] = None if stmt is None else [tuple(row) for row in db.session.execute(stmt)]
    return cache[key]


def _counted(
    partnership: Partnership,
    kind: ObservationKind | str | None,
    start: date | None,
    end: date | None,
    audience: Audience,
):
    """The rows of :func:`_counted_rows` of one kind in the period [start, end) (as _base's WHERE clause)."""
    rows = _counted_rows(partnership, audience)
    if rows is None:
        return None
    wanted = ObservationKind(kind) if kind is not None else None
    return [
        r
        for r in rows
        if (wanted is None or r[3] == wanted) and (start is None or r[1] >= start) and (end is None or r[1] < end)
    ]


def theme_counts(
    partnership: Partnership,
    kind: str | None = None,
    start: date | None = None,
    end: date | None = None,
    audience: Audience = Audience.PARTNERSHIP,
) -> dict[int, Tally]:
    """``{theme id: tally}`` in the period [start, end) (release before showing)."""
    rows = _counted(partnership, kind, start, end, audience)
    out: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for theme_id, _period, _area, _kind, key in rows or ():
        cell = out[theme_id]
        cell[0] += 1
        cell[1] += key
    return {t: Tally(n, ks) for t, (n, ks) in out.items()}


def monthly_counts(
    partnership: Partnership,
    kind: str | None = None,
    start: date | None = None,
    end: date | None = None,
    audience: Audience = Audience.PARTNERSHIP,
) -> dict[int, dict[date, Tally]]:
    """``{theme id: {first day of month: tally}}``."""
    rows = _counted(partnership, kind, start, end, audience)
    out: dict[int, dict[date, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for theme_id, period, _area, _kind, key in rows or ():
        cell = out[theme_id][month_start(period)]
        cell[0] += 1
        cell[1] += key
    return {t: {m: Tally(n, ks) for m, (n, ks) in months.items()} for t, months in out.items()}


def area_counts(
    partnership: Partnership,
    kind: str | None = None,
    start: date | None = None,
    end: date | None = None,
    audience: Audience = Audience.PARTNERSHIP,
) -> dict[int, dict[int | None, Tally]]:
    """``{theme id: {area id (None = whole partnership area): tally}}`` (observations placed exactly there)."""
    rows = _counted(partnership, kind, start, end, audience)
    out: dict[int, dict[int | None, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for theme_id, _period, area_id, _kind, key in rows or ():
        cell = out[theme_id][area_id]
        cell[0] += 1
        cell[1] += key
    return {t: {a: Tally(n, ks) for a, (n, ks) in areas.items()} for t, areas in out.items()}


def monthly_area_counts(
    partnership: Partnership,
    kind: str | None = None,
    start: date | None = None,
    end: date | None = None,
    audience: Audience = Audience.PARTNERSHIP,
) -> dict[int, dict[date, dict[int | None, Tally]]]:
    """``{theme id: {first day of month: {area id (None = whole partnership area): tally}}}`` (placed exactly)."""
    rows = _counted(partnership, kind, start, end, audience)
    out: dict[int, dict[date, dict[int | None, list[int]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(lambda: [0, 0]))
    )
    for theme_id, period, area_id, _kind, key in rows or ():
        cell = out[theme_id][month_start(period)][area_id]
        cell[0] += 1
        cell[1] += key
    return {
        t: {m: {a: Tally(n, ks) for a, (n, ks) in areas.items()} for m, areas in months.items()}
        for t, months in out.items()
    }


@dataclass(frozen=True)
class Trend:
    direction: str  # "rising", "falling", "steady" or "too few"
    recent: int
    before: int
    p_value: float | None

    @property
    def label(self) -> str:
        return {"rising": "Rising", "falling": "Falling", "steady": "Steady", "too few": "Too few to tell"}[
            self.direction
        ]


def trend(months: dict[date, Tally], until: date) -> Trend:
    """Rising/falling of one theme: the 3 months before ``until``'s month against the 3 before those.

    Exact two-sided binomial test of the recent share against 0.5, on the two counts as released (see the module
    docstring): a count not released as a number leaves the trend "too few".
    """
    from scipy.stats import binomtest

    end = month_start(until)
    recent_tally = Tally.total(months.get(add_months(end, -i), Tally()) for i in range(1, TREND_MONTHS + 1))
    before_tally = Tally.total(
        months.get(add_months(end, -i), Tally()) for i in range(TREND_MONTHS + 1, 2 * TREND_MONTHS + 1)
    )
    shown = release(recent_tally), release(before_tally)
    if any(s.suppressed for s in shown):
        return Trend("too few", 0, 0, None)
    recent, before = shown[0].shown_value, shown[1].shown_value
    n = recent + before
    if n < TREND_MIN_COUNT:
        return Trend("too few", recent, before, None)
    p = float(binomtest(recent, n, 0.5).pvalue)
    if p >= TREND_ALPHA:
        return Trend("steady", recent, before, p)
    return Trend("rising" if recent > before else "falling", recent, before, p)


def trends(
    partnership: Partnership,
    kind: str | None = None,
    until: date | None = None,
    audience: Audience = Audience.PARTNERSHIP,
) -> dict[int, Trend]:
    """``{theme id: Trend}`` for the partnership's visible themes, comparing the 3 months before ``until``
    (default: today) with the 3 before those."""
    until = until or date.today()
    start = add_months(month_start(until), -2 * TREND_MONTHS)
    counts = monthly_counts(partnership, kind, start, month_start(until), audience)
    return {theme_id: trend(months, until) for theme_id, months in counts.items()}


def visible_themes(partnership: Partnership) -> list[Theme]:
    """The partnership's themes found by its active model (or split off by a person since), not hidden and not
    merged away."""
    model = active_model(partnership.id)
    if model is None:
        return []
    ids = set(model.changes.get("topic_theme_ids", [])) | set(model.changes.get("split", []))
    return list(
        db.session.scalars(
            select(Theme)
            .where(Theme.id.in_(ids), Theme.hidden.is_(False), Theme.merged_into_id.is_(None))
            .order_by(Theme.id)
        )
    )


def visible_theme_labels_of(partnerships) -> dict[int, str]:
    """``{theme id: label}`` of the visible themes of each of ``partnerships`` (as :func:`visible_themes` of each),
    in two queries for all, reading labels only (a national funder's library lists thousands of themes, and a
    theme row carries its centroid)."""
    ids = [p.id for p in partnerships]
    if not ids:
        return {}
    models: dict[int, dict] = {}
    stmt = select(ThemeModel.partnership_id, ThemeModel.changes).where(
        ThemeModel.active.is_(True), ThemeModel.partnership_id.in_(ids)
    )
    for partnership_id, changes in db.session.execute(stmt.order_by(ThemeModel.version)):
        models[partnership_id] = changes or {}  # the highest active version wins, as in active_model
    wanted = {t for c in models.values() for t in [*c.get("topic_theme_ids", []), *c.get("split", [])]}
    if not wanted:
        return {}
    rows = db.session.execute(
        select(Theme.id, Theme.curated_label, Theme.auto_label)
        .where(Theme.id.in_(wanted), Theme.hidden.is_(False), Theme.merged_into_id.is_(None))
        .order_by(Theme.id)
    )
    return {theme_id: curated or auto for theme_id, curated, auto in rows}  # Theme.label


def rolled_up(exact: dict[int | None, Tally], parents: dict[int, int | None] | None = None) -> dict[int, Tally]:
    """``{area id: tally}`` where each area counts the observations placed in it or in any area inside it (from the
    tallies of :func:`area_counts`, placed exactly; the whole partnership area, None, is left out).

    ``parents``: ``{area id: parent id}`` of these areas and the areas above them (:func:`parents_of`); a page rolling
    up many themes passes one map for all of them. Read here when not given."""
    if parents is None:
        parents = parents_of(a for a in exact if a is not None)
    out: dict[int, Tally] = defaultdict(Tally)
    for area_id, tally in exact.items():
        node, seen = area_id, 0
        while node is not None and seen < 6:
            out[node] = out[node] + tally
            node, seen = parents.get(node), seen + 1
    return dict(out)


def parents_of(area_ids) -> dict[int, int | None]:
    """``{area id: parent id}`` of ``area_ids`` and every area above them: one small query per level (at most six),
    not the parent of every area stored (80,000 rows with England's geography loaded)."""
    parents: dict[int, int | None] = {}
    frontier = set(area_ids)
    for _ in range(6):
        frontier -= parents.keys()
        if not frontier:
            break
        rows = db.session.execute(select(Area.id, Area.parent_id).where(Area.id.in_(sorted(frontier)))).all()
        parents.update((i, p) for i, p in rows)
        frontier = {p for _, p in rows if p is not None}
    return parents


# Periods a page can say something about ------------------------------------------------------------------------------

# Months, then quarters, then the whole year: the first at which at least half the periods are released as a number.
GRAINS = (("month", 1), ("quarter", 3), ("year", 12))
SHOWN_ENOUGH = 0.5


@dataclass(frozen=True)
class Period:
    start: date
    months: int  # 1, 3 or 12
    count: Released

    @property
    def end(self) -> date:
        """The first day after the period."""
        return add_months(self.start, self.months)

    @property
    def label(self) -> str:
        last = add_months(self.start, self.months - 1)
        if self.months == 1:
            return f"{self.start:%B %Y}"
        if self.start.year == last.year:
            return f"{self.start:%b}–{last:%b %Y}"
        return f"{self.start:%b %Y}–{last:%b %Y}"


def blocks(months: list[date], size: int) -> list[list[date]]:
    """``months`` (consecutive, oldest first, a multiple of ``size`` long) in blocks of ``size`` ending with the last
    month: the last quarter is the trend's "last 3 complete months", the one before it the trend's "3 before"."""
    return [months[i : i + size] for i in range(0, len(months), size)]


def nesting(per_month: dict[date, Tally], months: list[date]) -> dict[tuple[date, int], Tally]:
    """``{(block start, block size): tally}`` for every month, quarter and the year of ``months``."""
    out: dict[tuple[date, int], Tally] = {}
    for _, size in GRAINS:
        for block in blocks(months, size):
            out[(block[0], size)] = Tally.total(per_month.get(m, Tally()) for m in block)
    return out


def containing(nested: dict[tuple[date, int], Tally], month: date, months: list[date], below: int = 1) -> list[Tally]:
    """The tallies of the periods larger than ``below`` months that contain ``month`` (for ``within``)."""
    out = []
    for _, size in GRAINS:
        if size <= below:
            continue
        for block in blocks(months, size):
            if month in block:
                out.append(nested.get((block[0], size), Tally()))
    return out


def released_blocks(
    nested: dict[tuple[date, int], Tally],
    months: list[date],
    size: int,
    within: list[Tally],
    also: tuple[dict[tuple[date, int], Tally], ...] = (),
) -> list[Period]:
    """The blocks of ``size`` months, each released inside ``within``, the larger periods containing it, and the same
    period and its larger ones in each of ``also`` (other nestings of the same months that contain these counts: the
    theme's all-kinds counts around a row of one kind)."""
    out = []
    for block in blocks(months, size):
        key = (block[0], size)
        around = [*within, *containing(nested, block[0], months, below=size)]
        for other in also:
            around += [other.get(key, Tally()), *containing(other, block[0], months, below=size)]
        out.append(Period(block[0], size, release(nested.get(key, Tally()), around)))
    return out


def periods(
    per_month: dict[date, Tally],
    months: list[date],
    within: list[Tally],
    also: tuple[dict[tuple[date, int], Tally], ...] = (),
) -> list[Period]:
    """A theme's counts over ``months`` (12 complete months), released at the finest grain that says something:
    months when at least half of them are released as a number, else quarters, else the whole year.

    Every cell names the larger periods containing it (and ``within``, the theme's totals, and ``also``; see
    :func:`released_blocks`), so a quarter of fewer than k is never broken into months on any page: the theme list's
    month columns are :func:`released_blocks` of the same cells."""
    nested = nesting(per_month, months)
    for _, size in GRAINS:
        cells = released_blocks(nested, months, size, within, also)
        numbers = sum(1 for p in cells if p.count.value is not None)
        if numbers >= SHOWN_ENOUGH * len(cells) or size == GRAINS[-1][1]:
            return cells
    return []  # not reached: the year is always returned
