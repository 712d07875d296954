"""Theme figures other packages build on (area profiles, briefings): counts by theme, month, area and kind.

Counts returned here are **raw** integers so that callers can add them up; anything shown to a person (screen, PDF,
export, API) must go through ``webapp.suppression.suppress`` first, and suppressed counts are left out of charts
(``webapp.suppression.chartable``).

Only a partnership's *shared, live, redacted* observations count (``submissions.queries.partnership_observations``),
under its *active* theme model, in visible (not hidden, not merged) themes.

Rising / falling (:func:`trend`): the count of the last 3 complete months is compared with the 3 months before.
If observations arrived at a steady rate, the share of the 6 months' observations falling in the recent 3 months is
Binomial(n, 0.5); a two-sided exact binomial test with p < 0.05 marks the theme rising (more recently) or falling.
Fewer than 10 observations over the 6 months are too few to say (``"too few"``), so that a small theme is never
flagged on noise.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from nlp.models import Theme, ThemeAssignment, active_model
from submissions.models import Observation, ObservationKind
from submissions.queries import partnership_observations
from webapp.extensions import db
from webapp.models import Partnership

TREND_MONTHS = 3
TREND_ALPHA = 0.05
TREND_MIN_COUNT = 10


def month_start(d: date) -> date:
    return date(d.year, d.month, 1)


def add_months(d: date, n: int) -> date:
    y, m = divmod(d.month - 1 + n, 12)
    return date(d.year + y, m + 1, 1)


def _base(partnership: Partnership, kind: ObservationKind | str | None, start: date | None, end: date | None):
    model = active_model(partnership.id)
    if model is None:
        return None
    shared = partnership_observations(partnership).with_only_columns(Observation.id).order_by(None).subquery()
    stmt = (
        select(ThemeAssignment.theme_id, Observation.period_start, Observation.area_id, Observation.kind)
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


def theme_counts(
    partnership: Partnership, kind: str | None = None, start: date | None = None, end: date | None = None
) -> dict[int, int]:
    """``{theme id: observations}`` in the period [start, end) (raw counts: suppress before showing)."""
    stmt = _base(partnership, kind, start, end)
    if stmt is None:
        return {}
    sub = stmt.subquery()
    rows = db.session.execute(select(sub.c.theme_id, func.count()).group_by(sub.c.theme_id))
    return {theme_id: n for theme_id, n in rows}


def monthly_counts(
    partnership: Partnership, kind: str | None = None, start: date | None = None, end: date | None = None
) -> dict[int, dict[date, int]]:
    """``{theme id: {first day of month: observations}}`` (raw counts)."""
    stmt = _base(partnership, kind, start, end)
    out: dict[int, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    if stmt is None:
        return {}
    for theme_id, period, _area, _kind in db.session.execute(stmt):
        out[theme_id][month_start(period)] += 1
    return {t: dict(m) for t, m in out.items()}


def area_counts(
    partnership: Partnership, kind: str | None = None, start: date | None = None, end: date | None = None
) -> dict[int, dict[int | None, int]]:
    """``{theme id: {area id (None = whole partnership area): observations}}`` (raw counts)."""
    stmt = _base(partnership, kind, start, end)
    out: dict[int, dict[int | None, int]] = defaultdict(lambda: defaultdict(int))
    if stmt is None:
        return {}
    for theme_id, _period, area_id, _kind in db.session.execute(stmt):
        out[theme_id][area_id] += 1
    return {t: dict(a) for t, a in out.items()}


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


def trend(months: dict[date, int], until: date) -> Trend:
    """Rising/falling of one theme: the 3 months before ``until``'s month against the 3 before those.

    Exact two-sided binomial test of the recent share against 0.5 (see the module docstring).
    """
    from scipy.stats import binomtest

    end = month_start(until)
    recent = sum(months.get(add_months(end, -i), 0) for i in range(1, TREND_MONTHS + 1))
    before = sum(months.get(add_months(end, -i), 0) for i in range(TREND_MONTHS + 1, 2 * TREND_MONTHS + 1))
    n = recent + before
    if n < TREND_MIN_COUNT:
        return Trend("too few", recent, before, None)
    p = float(binomtest(recent, n, 0.5).pvalue)
    if p >= TREND_ALPHA:
        return Trend("steady", recent, before, p)
    return Trend("rising" if recent > before else "falling", recent, before, p)


def trends(partnership: Partnership, kind: str | None = None, until: date | None = None) -> dict[int, Trend]:
    """``{theme id: Trend}`` for the partnership's visible themes, comparing the 3 months before ``until``
    (default: today) with the 3 before those."""
    until = until or date.today()
    start = add_months(month_start(until), -2 * TREND_MONTHS)
    counts = monthly_counts(partnership, kind, start, month_start(until))
    return {theme_id: trend(months, until) for theme_id, months in counts.items()}


def visible_themes(partnership: Partnership) -> list[Theme]:
    """The partnership's themes found by its active model, not hidden and not merged away."""
    model = active_model(partnership.id)
    if model is None:
        return []
    ids = set(model.changes.get("topic_theme_ids", []))
    return list(
        db.session.scalars(
            select(Theme)
            .where(Theme.id.in_(ids), Theme.hidden.is_(False), Theme.merged_into_id.is_(None))
            .order_by(Theme.id)
        )
    )
