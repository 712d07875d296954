"""Theme pages for a partnership's convenors: lists (needs and assets apart), counts, a theme's page with quotes,
curation forms and the refresh button. Routes only: rules are in nlp.operations and nlp.queries."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from indicators import charts
from indicators.profiles import GuardedTotal, guarded_total
from nlp import operations, queries
from nlp.forms import ActionForm, MergeThemeForm, RenameThemeForm
from nlp.models import Theme, ThemeAssignment, active_model
from submissions.models import Observation, ObservationKind
from submissions.queries import partnership_observations
from webapp import policy
from webapp.extensions import db
from webapp.jobs import enqueue
from webapp.models import Area, Partnership
from webapp.suppression import Count, suppress
from webapp.views import commit_or_flash

bp = Blueprint("themes", __name__, url_prefix="/themes")

MONTHS_SHOWN = 12
QUOTES = 5


def _partnership(slug: str) -> Partnership:
    partnership = db.session.scalar(select(Partnership).where(Partnership.slug == slug))
    if partnership is None or not policy.can_curate_themes(current_user, partnership):
        abort(404)
    return partnership


def _theme(partnership: Partnership, theme_id: int) -> Theme:
    theme = db.session.get(Theme, theme_id)
    if theme is None or theme.partnership_id != partnership.id:
        abort(404)
    return theme


@bp.route("/", endpoint="index")
def index():
    partnerships = [
        p
        for p in db.session.scalars(select(Partnership).order_by(Partnership.name))
        if policy.can_curate_themes(current_user, p)
    ]
    return render_template("nlp/index.html", partnerships=partnerships)


def _months(today: date) -> list[date]:
    end = queries.month_start(today)
    return [queries.add_months(end, -i) for i in range(MONTHS_SHOWN, 0, -1)]


@bp.route("/<slug>", endpoint="partnership")
def partnership_themes(slug: str):
    partnership = _partnership(slug)
    model = active_model(partnership.id)
    themes = {t.id: t for t in queries.visible_themes(partnership)}
    today = date.today()
    months = _months(today)
    sections = []
    # A need row and an asset row add up to the theme's all-kinds total on its own page: where that page guards its
    # total (against its months and places), the rows here must not give it away either.
    places = queries.area_counts(partnership)
    all_months = queries.monthly_counts(partnership, None, months[0], queries.month_start(today))
    guarded_on_its_page = {
        theme_id
        for theme_id, n in queries.theme_counts(partnership).items()
        if isinstance(
            _safe_total(n, [all_months.get(theme_id, {}).get(m, 0) for m in months],
                        list(places.get(theme_id, {}).values()))[0],
            GuardedTotal,
        )
    }  # fmt: skip
    for kind in ObservationKind:
        totals = queries.theme_counts(partnership, kind.value)
        monthly = queries.monthly_counts(partnership, kind.value, months[0], queries.month_start(today))
        trends = queries.trends(partnership, kind.value, today)
        rows = []
        for theme_id, n in sorted(totals.items(), key=lambda kv: -kv[1]):
            if theme_id not in themes:
                continue
            per_month = monthly.get(theme_id, {})
            raw_months = [per_month.get(m, 0) for m in months]
            cells = [suppress(c) for c in raw_months]
            # Beside hidden months the exact total could give them away (total − the months shown).
            total = _month_guarded(n, raw_months)
            if theme_id in guarded_on_its_page and not total.suppressed:
                total = GuardedTotal(sum(c.value or 0 for c in cells), total.k)
            rows.append(
                {
                    "theme": themes[theme_id],
                    "total": total,
                    "months": cells,
                    "trend": trends.get(theme_id),
                }
            )
        sections.append({"kind": kind, "rows": rows})
    return render_template(
        "nlp/partnership.html",
        partnership=partnership,
        model=model,
        corpus=suppress(model.corpus_size) if model else None,
        sections=sections,
        months=months,
        refresh_form=ActionForm(),
        new_themes=[db.session.get(Theme, i) for i in (model.changes.get("new", []) if model else [])],
        vanished=[db.session.get(Theme, i) for i in (model.changes.get("vanished", []) if model else [])],
        hidden=list(
            db.session.scalars(
                select(Theme).where(Theme.partnership_id == partnership.id, Theme.hidden.is_(True)).order_by(Theme.id)
            )
        ),
    )


@bp.route("/<slug>/<int:theme_id>", endpoint="detail")
def theme_detail(slug: str, theme_id: int):
    partnership = _partnership(slug)
    theme = _theme(partnership, theme_id)
    model = active_model(partnership.id)
    quotes, areas, month_rows, total, chart = [], [], [], None, None
    if model is not None:
        shared = partnership_observations(partnership).with_only_columns(Observation.id).order_by(None).subquery()
        quotes = list(
            db.session.scalars(
                select(Observation)
                .join(ThemeAssignment, ThemeAssignment.observation_id == Observation.id)
                .join(shared, shared.c.id == Observation.id)
                .where(
                    ThemeAssignment.model_id == model.id,
                    ThemeAssignment.theme_id == theme.id,
                    Observation.consent_to_quote.is_(True),
                )
                .order_by(ThemeAssignment.probability.desc(), Observation.id)
                .limit(QUOTES)
            )
        )
        by_area = queries.area_counts(partnership).get(theme.id, {})
        month_rows, total, months_guarded, chart = _monthly(partnership, theme, by_area)
        counts = {a: suppress(n) for a, n in by_area.items()}
        if months_guarded and not any(c.suppressed for c in counts.values()) and counts:
            # The places add up to the total, which beside a hidden month would give it away: hide the largest.
            largest = max(by_area, key=lambda a: (by_area[a], a or 0))
            counts[largest] = GuardedTotal(0, counts[largest].k)
        names = {a.id: a.name for a in db.session.scalars(select(Area).where(Area.id.in_([i for i in by_area if i])))}
        areas = sorted(
            ((names.get(a, "Whole partnership area") if a else "Whole partnership area", c) for a, c in counts.items()),
            key=lambda x: x[0],
        )
    merge_form = MergeThemeForm()
    merge_form.target.choices = [(t.id, t.label) for t in queries.visible_themes(partnership) if t.id != theme.id]
    rename_form = RenameThemeForm(label=theme.curated_label or "", description=theme.description)
    return render_template(
        "nlp/theme.html",
        partnership=partnership,
        theme=theme,
        quotes=quotes,
        areas=areas,
        month_rows=month_rows,
        total=total,
        month_chart=chart,
        rename_form=rename_form,
        merge_form=merge_form,
        action_form=ActionForm(),
    )


def _month_guarded(n: int, raw_months: list[int]) -> Count | GuardedTotal:
    """Total ``n`` as it may be shown beside these month cells, which may cover only part of it (the last 12
    complete months of an all-time total): guarded by the true sum of the hidden months."""
    cells = [suppress(c) for c in raw_months]
    hidden = sum(c for c, cell in zip(raw_months, cells, strict=True) if cell.suppressed)
    return guarded_total(suppress(n), cells, hidden_sum=hidden)


def _safe_total(n: int, raw_months: list[int], raw_places: list[int]) -> tuple[Count | GuardedTotal, bool]:
    """A theme's all-time total as it may be shown beside its month cells and its places (both through
    ``guarded_total``; when both guard it, the larger lower bound, which gives nothing away), and whether the
    months alone required a guard."""
    total = suppress(n)
    cells = [suppress(c) for c in raw_months]
    places = [suppress(c) for c in raw_places]
    by_month = _month_guarded(n, raw_months)
    by_place = guarded_total(total, places)
    months_guarded = isinstance(by_month, GuardedTotal)
    if not months_guarded and not isinstance(by_place, GuardedTotal):
        return total, False
    places_shown = sum(c.value or 0 for c in places)
    if months_guarded and not any(c.suppressed for c in places) and raw_places:
        places_shown -= max(raw_places)  # the theme page hides its largest place (see theme_detail)
    # Either sum of shown cells is on the page already, so the larger is a lower bound that reveals nothing new.
    shown = max(sum(c.value or 0 for c in cells), places_shown)
    return GuardedTotal(shown, total.k), months_guarded


def _monthly(partnership: Partnership, theme: Theme, by_area: dict) -> tuple[list, Count | GuardedTotal, bool, str]:
    """The theme's last 12 complete months (as on the list page), its all-time total guarded against both the
    hidden months and the hidden areas, whether the months needed that guard, and a bar chart of the months that
    may be drawn (suppressed ones are not)."""
    today = date.today()
    months = _months(today)
    per_month = queries.monthly_counts(partnership, None, months[0], queries.month_start(today)).get(theme.id, {})
    raw_months = [per_month.get(m, 0) for m in months]
    month_rows = [(m, suppress(c)) for m, c in zip(months, raw_months, strict=True)]
    total, months_guarded = _safe_total(sum(by_area.values()), raw_months, list(by_area.values()))
    first, last = months[0].strftime("%B %Y"), months[-1].strftime("%B %Y")
    spec = charts.bars(
        [{"label": m.strftime("%b %Y"), "value": c.value, "display": str(c)} for m, c in month_rows],
        f"“{theme.label}” by month",
        "Observations",
        f"Bar chart of observations in the theme {theme.label} per month from {first} to {last}; months with "
        f"fewer than {month_rows[0][1].k} are not drawn. The table below lists every month.",
        sort=False,
    )
    drawable = any(c.value for _, c in month_rows)  # an empty chart says nothing
    return month_rows, total, months_guarded, charts.script_json(spec) if drawable else None


def _back(partnership, theme):
    return redirect(url_for("themes.detail", slug=partnership.slug, theme_id=theme.id))


@bp.route("/<slug>/<int:theme_id>/rename", methods=["POST"], endpoint="rename")
def rename(slug: str, theme_id: int):
    partnership = _partnership(slug)
    theme = _theme(partnership, theme_id)
    form = RenameThemeForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(error, "error")
        return _back(partnership, theme)
    commit_or_flash(
        lambda: operations.rename_theme(theme, form.label.data or "", current_user, form.description.data or ""),
        "Theme renamed.",
    )
    return _back(partnership, theme)


@bp.route("/<slug>/<int:theme_id>/merge", methods=["POST"], endpoint="merge")
def merge(slug: str, theme_id: int):
    partnership = _partnership(slug)
    theme = _theme(partnership, theme_id)
    form = MergeThemeForm()
    form.target.choices = [(t.id, t.label) for t in queries.visible_themes(partnership) if t.id != theme.id]
    if not form.validate_on_submit():
        flash("Merge into: choose one of the partnership's themes.", "error")
        return _back(partnership, theme)
    target = _theme(partnership, form.target.data)
    merged = f"Merged into “{target.label}”."
    if not commit_or_flash(lambda: operations.merge_themes(theme, target, current_user), merged):
        return _back(partnership, theme)
    return redirect(url_for("themes.detail", slug=partnership.slug, theme_id=target.id))


@bp.route("/<slug>/<int:theme_id>/hide", methods=["POST"], endpoint="hide")
def hide(slug: str, theme_id: int):
    partnership = _partnership(slug)
    theme = _theme(partnership, theme_id)
    if ActionForm().validate_on_submit():
        operations.set_hidden(theme, not theme.hidden, current_user)
        db.session.commit()
        flash("Theme hidden." if theme.hidden else "Theme shown again.", "success")
    return _back(partnership, theme)


@bp.route("/<slug>/<int:theme_id>/sign-off", methods=["POST"], endpoint="sign_off")
def sign_off(slug: str, theme_id: int):
    partnership = _partnership(slug)
    theme = _theme(partnership, theme_id)
    if ActionForm().validate_on_submit():
        commit_or_flash(lambda: operations.sign_off(theme, current_user), "Theme signed off.")
    return _back(partnership, theme)


@bp.route("/<slug>/refresh", methods=["POST"], endpoint="refresh")
def refresh(slug: str):
    from nlp.theme_tasks import refit_themes

    partnership = _partnership(slug)
    if not ActionForm().validate_on_submit():
        flash("The form expired; please try again.", "error")
        return redirect(url_for("themes.partnership", slug=slug))
    job = enqueue("themes.refit", refit_themes, partnership.id, created_by=current_user)
    db.session.commit()
    return redirect(url_for("jobs.status", job_id=job.id))
