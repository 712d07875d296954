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

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from flask import has_request_context, request
from sqlalchemy import Select, String, select, type_coerce

from nlp.themes.models import Theme, ThemeAssignment, ThemeModel, active_model
from submissions.models import Observation, ObservationKind
from submissions.queries import partnership_observations, tally_columns
from webapp.disclosure import Audience, Tally, release
from webapp.extensions import db
from webapp.hierarchy import parents_of, request_cache
from webapp.models import Partnership

TREND_MONTHS = 3
TREND_ALPHA = 0.05
TREND_MIN_COUNT = 10


def month_start(d: date) -> date:
    return date(d.year, d.month, 1)


def add_months(d: date, n: int) -> date:
    y, m = divmod(d.month - 1 + n, 12)
    return date(d.year + y, m + 1, 1)


def _read_memo(name: str) -> dict | None:
    """A dict kept for the current GET request (None elsewhere: a form that changes themes reads them afresh)."""
    if not has_request_context() or request.method not in ("GET", "HEAD"):
        return None
    return request_cache(name)


def _active_model(partnership_id: int) -> ThemeModel | None:
    """:func:`nlp.themes.models.active_model`, asked once per page: an area page asked it three times."""
    memo = _read_memo("active_models")
    if memo is None:
        return active_model(partnership_id)
    if partnership_id not in memo:
        memo[partnership_id] = active_model(partnership_id)
    return memo[partnership_id]


def _assigned_rows(partnership: Partnership, audience: Audience) -> Select | None:
    """The statement of :func:`_counted_rows` before its theme check: ``(theme id, period start, area id, kind
    (its value), record key)`` of each observation ``audience`` counts under the active model with a theme (None:
    no model).

    The sharing rule is submissions.queries' own WHERE clause, on the joined observations. Before, it was joined as
    a subquery of ids, and the themes joined too: at a million observations PostgreSQL then read each observation
    twice and each theme once per observation (16,000 index probes, 30-45 ms per page, with 4,000 rows). Now it
    scans ``ix_observations_tallies`` and ``ix_theme_assignments_model_theme``, which hold every column read here,
    and hash-joins them (2-3 ms)."""
    model = _active_model(partnership.id)
    if model is None:
        return None
    shared = partnership_observations(partnership, audience).whereclause
    if shared is None:  # never: the sharing rule is a WHERE clause
        raise ValueError("partnership_observations has no WHERE clause")
    return (
        select(
            ThemeAssignment.theme_id,
            Observation.period_start,
            Observation.area_id,
            # The kind's stored value, a plain string (equal to its ObservationKind, a StrEnum): converting 4,000
            # of them to the enum took a third of the rows' processor time.
            type_coerce(Observation.kind, String).label("kind"),
            Observation.record_key,
        )
        .join(Observation, Observation.id == ThemeAssignment.observation_id)
        .where(shared, ThemeAssignment.model_id == model.id, ThemeAssignment.theme_id.is_not(None))
    )


def _counted_rows(partnership: Partnership, audience: Audience) -> list[tuple[int, date, int | None, str, int]] | None:
    """``(theme id, period start, area id, kind, record key)`` of every observation ``audience`` counts under the
    active model, in visible themes (None: no model). Read once per request and partnership: an area page or a
    theme page asked for the same rows eight to ten times, filtered by kind and period (at a million observations
    each read cost 30-70 ms, most of those pages' time, see benchmarks/scale.py). Every count below is the same
    filter and the same exact sum over these rows as the SQL it replaced, so the same tallies and released values
    (tests/nlp/test_theme_counts_once.py keeps that SQL as its reference). Outside a request nothing is kept."""
    cache = request_cache("theme_rows")  # empty and unshared outside a request
    key = (partnership.id, audience)
    if key not in cache:
        stmt = _assigned_rows(partnership, audience)
        if stmt is None:
            cache[key] = None
        else:
            # On the session's connection, not through the ORM's result layer: the same rows (theme id, period,
            # area, kind, record key), in half the processor time (4,000 rows a page). The
            # session's pending changes are flushed first, as its own execute() does.
            if db.session.autoflush:
                db.session.flush()
            rows = db.session.connection().execute(stmt).all()
            # Visible: not hidden and not merged away, asked of the few themes found (the join it replaces).
            found = {row[0] for row in rows}
            visible = set(
                db.session.scalars(
                    select(Theme.id).where(
                        Theme.id.in_(sorted(found)), Theme.hidden.is_(False), Theme.merged_into_id.is_(None)
                    )
                )
            ) if found else set()  # fmt: skip
            cache[key] = [row for row in rows if row[0] in visible]
    return cache[key]


def _counted(
    partnership: Partnership,
    kind: ObservationKind | str | None,
    start: date | None,
    end: date | None,
    audience: Audience,
) -> list[tuple[int, date, int | None, str, int]] | None:
    """The rows of :func:`_counted_rows` of one kind in the period [start, end) (as the SQL it replaced filtered)."""
    rows = _counted_rows(partnership, audience)
    if rows is None:
        return None
    if kind is None and start is None and end is None:
        return rows
    wanted = ObservationKind(kind) if kind is not None else None
    return [
        r
        for r in rows
        if (wanted is None or r[3] == wanted) and (start is None or r[1] >= start) and (end is None or r[1] < end)
    ]


# The counts below add up plain integers per cell and make each Tally once: adding Tally objects row by row made
# and dropped one frozen dataclass per observation and figure (100,000 a page at a million observations).


def _add(cells: dict, key: object, record_key: int) -> None:
    cell = cells.get(key)
    if cell is None:
        cells[key] = [1, record_key]
    else:
        cell[0] += 1
        cell[1] += record_key


def _tallies(cells: dict) -> dict:
    return {key: Tally(n, ks) for key, (n, ks) in cells.items()}


def theme_counts(
    partnership: Partnership,
    kind: str | None = None,
    start: date | None = None,
    end: date | None = None,
    audience: Audience = Audience.PARTNERSHIP,
) -> dict[int, Tally]:
    """``{theme id: tally}`` in the period [start, end) (release before showing)."""
    out: dict[int, list[int]] = {}
    for row in _counted(partnership, kind, start, end, audience) or ():
        _add(out, row[0], row[4])
    return _tallies(out)


def theme_counts_by_kind(
    partnership: Partnership, audience: Audience = Audience.PARTNERSHIP
) -> dict[tuple[int, str | None], Tally]:
    """``{(theme id, kind or None for all kinds): tally}`` over all time: :func:`theme_counts` of every kind and of
    all kinds, in one pass over the rows (the same cells and sums)."""
    out: dict[tuple[int, str | None], list[int]] = {}
    for theme_id, _period, _area, kind, key in _counted(partnership, None, None, None, audience) or ():
        _add(out, (theme_id, None), key)
        _add(out, (theme_id, str(kind)), key)
    return _tallies(out)


def monthly_counts(
    partnership: Partnership,
    kind: str | None = None,
    start: date | None = None,
    end: date | None = None,
    audience: Audience = Audience.PARTNERSHIP,
) -> dict[int, dict[date, Tally]]:
    """``{theme id: {first day of month: tally}}``."""
    out: dict[int, dict[date, list[int]]] = {}
    for theme_id, period, _area, _kind, key in _counted(partnership, kind, start, end, audience) or ():
        by_month = out.get(theme_id)
        if by_month is None:
            by_month = out[theme_id] = {}
        _add(by_month, month_start(period), key)
    return {t: _tallies(months) for t, months in out.items()}


def area_counts(
    partnership: Partnership,
    kind: str | None = None,
    start: date | None = None,
    end: date | None = None,
    audience: Audience = Audience.PARTNERSHIP,
) -> dict[int, dict[int | None, Tally]]:
    """``{theme id: {area id (None = whole partnership area): tally}}`` (observations placed exactly there)."""
    out: dict[int, dict[int | None, list[int]]] = {}
    for theme_id, _period, area_id, _kind, key in _counted(partnership, kind, start, end, audience) or ():
        by_area = out.get(theme_id)
        if by_area is None:
            by_area = out[theme_id] = {}
        _add(by_area, area_id, key)
    return {t: _tallies(areas) for t, areas in out.items()}


def placed_areas(
    partnership: Partnership,
    kind: str | None = None,
    start: date | None = None,
    end: date | None = None,
    audience: Audience = Audience.PARTNERSHIP,
) -> set[int]:
    """The areas the counted observations of ``kind`` in [start, end) are placed in (the whole partnership area
    left out): the keys of :func:`area_counts` and :func:`monthly_area_counts`."""
    return {row[2] for row in _counted(partnership, kind, start, end, audience) or () if row[2] is not None}


def monthly_area_counts(
    partnership: Partnership,
    kind: str | None = None,
    start: date | None = None,
    end: date | None = None,
    audience: Audience = Audience.PARTNERSHIP,
    areas: set[int] | None = None,
) -> dict[int, dict[date, dict[int | None, Tally]]]:
    """``{theme id: {first day of month: {area id (None = whole partnership area): tally}}}`` (placed exactly);
    ``areas``: only the observations placed in these."""
    out: dict[int, dict[date, dict[int | None, list[int]]]] = {}
    for theme_id, period, area_id, _kind, key in _counted(partnership, kind, start, end, audience) or ():
        if areas is not None and area_id not in areas:
            continue
        months = out.setdefault(theme_id, {})
        by_area = months.get(month_start(period))
        if by_area is None:
            by_area = months[month_start(period)] = {}
        _add(by_area, area_id, key)
    return {t: {m: _tallies(areas) for m, areas in months.items()} for t, months in out.items()}


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
    p = _two_sided_p(recent, n)
    if p >= TREND_ALPHA:
        return Trend("steady", recent, before, p)
    return Trend("rising" if recent > before else "falling", recent, before, p)


@functools.lru_cache(maxsize=8192)
def _two_sided_p(recent: int, n: int) -> float:
    """The exact two-sided binomial test's p-value of ``recent`` of ``n`` against 0.5. Kept per (recent, n): an area
    page tests every theme of both kinds and its area's needs (scipy takes ~0.8 ms a test, 20-40 ms a page), and
    the same small pairs come back on every page."""
    from scipy.stats import binomtest  # noqa: PLC0415 - heavy: scipy.stats takes ~0.5 s to load, only for trends

    return float(binomtest(recent, n, 0.5).pvalue)


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
    memo = _read_memo("visible_themes")
    if memo is not None and partnership.id in memo:
        return list(memo[partnership.id])  # a page asked twice (its themes, then its early warnings)
    model = _active_model(partnership.id)
    if model is None:
        return []
    ids = set(model.changes.get("topic_theme_ids", [])) | set(model.changes.get("split", []))
    themes = list(
        db.session.scalars(
            select(Theme)
            .where(Theme.id.in_(ids), Theme.hidden.is_(False), Theme.merged_into_id.is_(None))
            .order_by(Theme.id)
        )
    )
    if memo is not None:
        memo[partnership.id] = themes
    return list(themes)


def visible_theme_labels_of(partnerships: Iterable[Partnership]) -> dict[int, str]:
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


def area_total_tallies(partnership: Partnership, audience: Audience = Audience.PARTNERSHIP) -> dict[int, Tally]:
    """``{area id: tally}`` of every observation ``audience`` counts in the partnership over all time, themed or not,
    each area counting the areas inside it: the tallies of the area pages' all-time totals ("Total", all months;
    indicators.community.area_totals releases those totals for a list of areas).

    A theme's cell in an area is released within its area's total (the theme map, a theme's places, the themes ×
    wards heatmap), so an area total of fewer than k is broken down by theme on no page: four themes each shown
    "fewer than 5" in a ward whose total is "fewer than 5" would pin every one to 1 (the demo attack found that).
    Kept for the request."""
    cache = request_cache("area_total_tallies")
    key = (partnership.id, audience)
    if key not in cache:
        stmt = (
            partnership_observations(partnership, audience)
            .order_by(None)
            .with_only_columns(Observation.area_id, *tally_columns())
            .group_by(Observation.area_id)
        )
        exact = {area_id: Tally.row(n, ks) for area_id, n, ks in db.session.execute(stmt)}
        cache[key] = rolled_up(exact)
    return cache[key]


def rolled_up(exact: dict[int | None, Tally], parents: dict[int, int | None] | None = None) -> dict[int, Tally]:
    """``{area id: tally}`` where each area counts the observations placed in it or in any area inside it (from the
    tallies of :func:`area_counts`, placed exactly; the whole partnership area, None, is left out).

    ``parents``: ``{area id: parent id}`` of these areas and the areas above them (:func:`parents_of`); a page rolling
    up many themes passes one map for all of them. Read here when not given."""
    if parents is None:
        parents = parents_of(a for a in exact if a is not None)
    out: dict[int, list[int]] = {}
    for area_id, tally in exact.items():
        node: int | None = area_id
        seen = 0
        while node is not None and seen < 6:
            cell = out.get(node)
            if cell is None:
                out[node] = [tally.count, tally.key_sum]
            else:
                cell[0] += tally.count
                cell[1] += tally.key_sum
            node, seen = parents.get(node), seen + 1
    return _tallies(out)


def reaches(area_id: int, targets: set[int], parents: dict[int, int | None]) -> bool:
    """Whether ``area_id`` or an area above it, as far as :func:`rolled_up` climbs, is one of ``targets``: whether
    the observations placed there count in a target's roll-up."""
    node: int | None = area_id
    seen = 0
    while node is not None and seen < 6:
        if node in targets:
            return True
        node, seen = parents.get(node), seen + 1
    return False


# Periods a page can say something about ------------------------------------------------------------------------------
