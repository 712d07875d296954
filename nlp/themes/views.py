"""Theme pages for a partnership's convenors: lists (needs and assets apart), counts, a theme's page with quotes,
curation forms and the refresh button. Routes only: rules are in nlp.themes.operations and
nlp.themes.queries. One module of about 500 lines: one blueprint's routes, each a screenful."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from nlp.themes import operations as theme_ops
from nlp.themes import periods, queries
from nlp.themes.forms import (
    NO_TARGET,
    NO_THEME,
    ActionForm,
    CorrectThemeForm,
    HideThemeForm,
    MergeThemeForm,
    RenameThemeForm,
)
from nlp.themes.models import Theme, ThemeAssignment, active_model
from nlp.themes.tasks import refit_themes
from submissions.models import Observation, ObservationKind
from submissions.queries import quotable_observations, tally_columns
from webapp import charts, disclosure, policy
from webapp.disclosure import Audience, Released, State, Tally, release
from webapp.extensions import db
from webapp.hierarchy import parents_of
from webapp.jobs import enqueue
from webapp.models import Area, AreaLevel, Partnership
from webapp.views import apply_or_flash

bp = Blueprint("themes", __name__, url_prefix="/themes")

MONTHS_SHOWN = 12
QUOTES = 5
MEMBERS = 40  # observations listed for correction on a theme's page (the ones nearest its centre first)


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


def _row_visible(released: Released) -> bool:
    """A row is listed when its count is shown or fewer than k; none and "not shown" are both left out, so that a
    missing row says nothing either way."""
    return released.state in (State.HIDDEN, State.SHOWN)


def _corpus(model) -> Released:
    """The observations the model was fitted on, released like every count (count and key sum in SQL)."""
    row = db.session.execute(
        select(*tally_columns())
        .select_from(ThemeAssignment)
        .join(Observation, Observation.id == ThemeAssignment.observation_id)
        .where(ThemeAssignment.model_id == model.id)
    ).one()
    return release(Tally.row(*row))


@bp.route("/<slug>", endpoint="partnership")
def partnership_themes(slug: str):
    partnership = _partnership(slug)
    model = active_model(partnership.id)
    themes = {t.id: t for t in queries.visible_themes(partnership)}
    today = date.today()
    months = _months(today)
    end = queries.month_start(today)
    # Every figure names the larger figures shown for the same theme that contain it (its row's total, the theme's
    # all-kinds total and month on its own page): a total of fewer than k is never broken down.
    everything = queries.theme_counts(partnership)
    all_nested = {t: periods.nesting(per_month, months) for t, per_month in queries.monthly_counts(
        partnership, None, months[0], end).items()}  # fmt: skip
    sections = []
    for kind in ObservationKind:
        totals = queries.theme_counts(partnership, kind.value)
        monthly = queries.monthly_counts(partnership, kind.value, months[0], end)
        trends = queries.trends(partnership, kind.value, today)
        rows: list[dict[str, Any]] = []
        for theme_id, tally in totals.items():
            if theme_id not in themes:
                continue
            theme_total = everything.get(theme_id, Tally())
            total = release(tally, [theme_total])
            if not _row_visible(total):
                continue
            per_month = monthly.get(theme_id, {})
            nested = periods.nesting(per_month, months)
            # Each period names the larger cells shown anywhere that contain it: its row's total, the theme's total,
            # the quarters and year around it, and the same period and larger ones over all kinds (the theme's page
            # may show those), so a small total is never broken down here. The sparkline is the same cells.
            around = (all_nested.get(theme_id, {}),)
            # Every grain's cells: the table takes one grain for all its rows (periods.table_grain), the sparkline
            # the row's own finest grain that says enough (as the theme's page does).
            grains = {
                size: periods.released_blocks(nested, months, size, [tally, theme_total], around)
                for _, size in periods.GRAINS
            }
            spark = periods.finest(grains.values())
            rows.append(
                {
                    "theme": themes[theme_id],
                    "total": total,
                    "grains": grains,
                    "trend": trends.get(theme_id),
                    "spark": _sparkline(themes[theme_id], spark),
                    "spark_grain": _grain(spark),
                }
            )
        rows.sort(key=lambda r: (-r["total"].shown_value, r["theme"].label))
        grain, size = periods.table_grain([r["grains"] for r in rows])
        for r in rows:
            r["cells"] = [p.count for p in r.pop("grains")[size]]
        columns = [periods.column_label(block[0], size) for block in periods.blocks(months, size)]
        sections.append({"kind": kind, "rows": rows, "moving": _moving(rows), "grain": grain, "columns": columns})
    heatmap = _heatmap(partnership, list(themes.values()), everything)
    return render_template(
        "nlp/partnership.html",
        partnership=partnership,
        model=model,
        corpus=_corpus(model) if model else None,
        sections=sections,
        heatmap=heatmap,
        method_note=disclosure.method_note(),
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
    quotes, members, areas, total, chart, heatmap, moving = [], [], [], None, None, None, {}
    month_rows: list[periods.Period] = []
    made_by: dict[int, bool] = {}
    if model is not None:
        members = _members(partnership, model, theme)
        quotes = members[:QUOTES]
        made_by = dict(
            db.session.execute(
                select(ThemeAssignment.observation_id, ThemeAssignment.assigned_by_id.is_not(None)).where(
                    ThemeAssignment.model_id == model.id,
                    ThemeAssignment.observation_id.in_([q.observation_id for q in members]),
                )
            )
            .tuples()
            .all()
        )
        everything = queries.theme_counts(partnership)
        theme_tally = everything.get(theme.id, Tally())
        total = release(theme_tally)
        month_rows, chart = _monthly(partnership, theme, theme_tally)
        areas = _places(partnership, theme, theme_tally)
        heatmap = _heatmap(partnership, queries.visible_themes(partnership), everything, theme)
        moving = {kind: _moving_themes(partnership, kind.value) for kind in ObservationKind}
    merge_form = MergeThemeForm(formdata=None)
    merge_form.set_targets(t for t in queries.visible_themes(partnership) if t.id != theme.id)
    rename_form = RenameThemeForm(label=theme.curated_label or "", description=theme.description)
    correct_form = CorrectThemeForm(formdata=None)
    correct_form.set_choices(members, [t for t in queries.visible_themes(partnership) if t.id != theme.id])
    return render_template(
        "nlp/theme.html",
        partnership=partnership,
        theme=theme,
        quotes=quotes,
        areas=areas,
        month_rows=month_rows,
        grain=_grain(month_rows),
        total=total,
        month_chart=chart,
        heatmap=heatmap,
        moving=moving,
        method_note=disclosure.method_note(),
        rename_form=rename_form,
        merge_form=merge_form,
        hide_form=HideThemeForm(formdata=None),
        action_form=ActionForm(),
        correct_form=correct_form,
        person_made={oid for oid, by_person in made_by.items() if by_person},
    )


def _members(partnership: Partnership, model, theme: Theme) -> list[disclosure.Quote]:
    """The theme's observations a convenor may read here (the partnership's quotable ones, as quotes), nearest the
    theme's centre first: what the page quotes and what corrections are made on."""
    quotable = (
        quotable_observations(partnership, Audience.PARTNERSHIP)
        .with_only_columns(Observation.id)
        .order_by(None)
        .subquery()
    )
    candidates = db.session.scalars(
        select(Observation)
        .join(ThemeAssignment, ThemeAssignment.observation_id == Observation.id)
        .join(quotable, quotable.c.id == Observation.id)
        .where(ThemeAssignment.model_id == model.id, ThemeAssignment.theme_id == theme.id)
        .order_by(ThemeAssignment.probability.desc(), Observation.id)
        .limit(MEMBERS)
    )
    return disclosure.quotes(candidates, Audience.PARTNERSHIP, partnership)


def _correction_form(partnership: Partnership, theme: Theme) -> tuple[CorrectThemeForm | None, list[int]]:
    """The posted correction form and the ticked observations, each one the page listed (else a flashed reason)."""
    form = CorrectThemeForm()
    model = active_model(partnership.id)
    listed = {q.observation_id for q in _members(partnership, model, theme)} if model is not None else set()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(error, "error")
        if not form.errors:
            flash("The form expired; please try again.", "error")
        return None, []
    ticked = [int(i) for i in form.members.data or []]
    if not ticked:
        flash("Observations: tick at least one observation. Nothing was changed.", "error")
        return None, []
    if not set(ticked) <= listed:
        flash("Observations: tick only observations listed on this page. Nothing was changed.", "error")
        return None, []
    return form, ticked


def _places(partnership: Partnership, theme: Theme, theme_tally: Tally) -> list[tuple[str, Released]]:
    """Where the theme is reported, by ward (each counting its LSOAs, as on the theme map), the whole partnership
    area and anywhere else, over all time; rows with none or not shown are left out."""
    exact = queries.area_counts(partnership).get(theme.id, {})
    rolled = queries.rolled_up(exact)
    # Only the wards the theme is counted in (not every ward in England: 8,000 rows with their boundaries).
    placed = select(Area).where(Area.id.in_(sorted(rolled)), Area.level == AreaLevel.WARD) if rolled else None
    wards = {a.id: a for a in db.session.scalars(placed)} if placed is not None else {}
    rows: list[tuple[str, Released]] = []
    in_wards = Tally()
    area_totals = queries.area_total_tallies(partnership)  # a ward's total of fewer than k is not broken down by theme
    for ward_id, tally in rolled.items():
        if ward_id in wards:
            in_wards = in_wards + tally
            rows.append((wards[ward_id].name, release(tally, [theme_tally, area_totals.get(ward_id, Tally())])))
    whole = exact.get(None, Tally())
    rows.append(("Whole partnership area", release(whole, [theme_tally])))
    rows.append(("Elsewhere (the authority as a whole, or outside a ward)",
                 release(theme_tally - in_wards - whole, [theme_tally])))  # fmt: skip
    return sorted(((name, r) for name, r in rows if _row_visible(r)), key=lambda x: x[0])


def _monthly(partnership: Partnership, theme: Theme, theme_tally: Tally) -> tuple[list[periods.Period], str | None]:
    """The theme's last 12 complete months at the finest grain that says something (months, else quarters, else the
    year: :func:`nlp.periods.periods`, cells nested as on the list page), and their chart: periods not released as a
    number are gaps carrying their words, never bars of 0."""
    today = date.today()
    months = _months(today)
    per_month = queries.monthly_counts(partnership, None, months[0], queries.month_start(today)).get(theme.id, {})
    rows = periods.periods(per_month, months, [theme_tally])
    first, last = months[0].strftime("%B %Y"), months[-1].strftime("%B %Y")
    spec = charts.periods(
        [
            {
                "start": p.start.isoformat(),
                "label": p.label,
                "value": p.count.value,
                "display": str(p.count),
                "short": charts.short(p.count),
            }
            for p in rows
        ],  # fmt: skip
        f"“{theme.label}” by {_grain(rows)}",
        "Observations",
        f"Bar chart of observations in the theme {theme.label} per {_grain(rows)} from {first} to {last}; periods not "
        "shown as a number are gaps marked with their words. The table below lists every period.",
    )
    drawable = any(p.count.value for p in rows)  # an empty chart says nothing
    return rows, charts.script_json(spec) if drawable else None


def _grain(rows) -> str:
    months = rows[0].months if rows else 1
    return {1: "month", 3: "quarter"}.get(months, "year")


def _sparkline(theme: Theme, rows: list[periods.Period]) -> str | None:
    """The list's small trend of a row (months or quarters; a single year says nothing as a line)."""
    if len(rows) < 2 or not any(p.count.value for p in rows):
        return None
    series = [
        {"start": p.start.isoformat(), "period": p.label, "value": p.count.value, "display": str(p.count)} for p in rows
    ]
    grain = _grain(rows)
    return charts.script_json(
        charts.sparkline(
            series,
            f"Observations of {theme.label} per {grain} over the last 12 complete months; a {grain} not shown as a "
            "number is a gap in the line.",
            width=110,
            gaps=True,
        )
    )


def _moving(rows: list[dict]) -> list[dict]:
    """The rows whose trend is rising or falling (the test's figures are on each)."""
    return [r for r in rows if r["trend"] and r["trend"].direction in ("rising", "falling")]


def _moving_themes(partnership: Partnership, kind: str) -> list[tuple[Theme, queries.Trend]]:
    themes = {t.id: t for t in queries.visible_themes(partnership)}
    trends = queries.trends(partnership, kind)
    moving = [(themes[i], t) for i, t in trends.items() if i in themes and t.direction in ("rising", "falling")]
    return sorted(moving, key=lambda x: (x[1].p_value or 1.0, x[0].label))


def _heatmap(
    partnership: Partnership, themes: list[Theme], totals: dict[int, Tally], highlight: Theme | None = None
) -> str | None:
    """Themes × wards over all time: each cell the theme's observations in the ward and its neighbourhoods, released
    exactly as the theme map and the theme page's places release it (inside the theme's total and the ward's total).
    Only wards with a cell shown as a number or as fewer than k are columns."""
    exact = queries.area_counts(partnership)
    parents = parents_of({a for by_area in exact.values() for a in by_area if a is not None})
    rolled = {t.id: queries.rolled_up(exact.get(t.id, {}), parents) for t in themes}
    ids = sorted({a for r in rolled.values() for a in r})
    wards = (
        {a.id: a for a in db.session.scalars(select(Area).where(Area.id.in_(ids), Area.level == AreaLevel.WARD))}
        if ids
        else {}
    )
    area_totals = queries.area_total_tallies(partnership)  # a ward's total of fewer than k is not broken down by theme
    released = {
        (t.id, w): release(rolled[t.id].get(w, Tally()), [totals.get(t.id, Tally()), area_totals.get(w, Tally())])
        for t in themes
        for w in wards
    }
    columns = sorted((w for w in wards if any(_row_visible(released[(t.id, w)]) for t in themes)),
                     key=lambda w: wards[w].name)  # fmt: skip
    rows = [t for t in themes if any(_row_visible(released[(t.id, w)]) for w in columns)]
    if not columns or not rows:
        return None
    if highlight is not None and highlight in rows:  # the page's own theme first
        rows = [highlight, *[t for t in rows if t is not highlight]]
    cells = [
        {
            "row": t.label,
            "column": wards[w].name,
            "value": released[(t.id, w)].value,
            "display": str(released[(t.id, w)]),
            "short": charts.short(released[(t.id, w)]),
        }
        for t in rows
        for w in columns
    ]
    return charts.script_json(
        charts.heatmap(
            cells,
            "Where each theme is reported, by ward (all time)",
            "Observations",
            f"Heat map of {len(rows)} themes by {len(columns)} wards: darker cells have more observations; grey cells "
            "are fewer than k or not shown. The theme's page lists its wards in a table.",
        )
    )


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
    apply_or_flash(
        lambda: theme_ops.rename_theme(theme, form.label.data or "", current_user, form.description.data or ""),
        "Theme renamed.",
    )
    return _back(partnership, theme)


@bp.route("/<slug>/<int:theme_id>/merge", methods=["POST"], endpoint="merge")
def merge(slug: str, theme_id: int):
    partnership = _partnership(slug)
    theme = _theme(partnership, theme_id)
    form = MergeThemeForm()
    form.set_targets(t for t in queries.visible_themes(partnership) if t.id != theme.id)
    if not form.validate_on_submit() or form.target.data == NO_TARGET:
        flash("Merge into: choose the theme to merge this one into. Nothing was merged.", "error")
        return _back(partnership, theme)
    if not form.confirm.data:
        flash("Tick the box to confirm the merge. Nothing was merged.", "error")
        return _back(partnership, theme)
    target = _theme(partnership, form.target.data)
    merged = f"Merged into “{target.label}”."
    if not apply_or_flash(lambda: theme_ops.merge_themes(theme, target, current_user), merged):
        return _back(partnership, theme)
    return redirect(url_for("themes.detail", slug=partnership.slug, theme_id=target.id))


@bp.route("/<slug>/<int:theme_id>/move", methods=["POST"], endpoint="move")
def move(slug: str, theme_id: int):
    partnership = _partnership(slug)
    theme = _theme(partnership, theme_id)
    form, ticked = _correction_form(partnership, theme)
    if form is None:
        return _back(partnership, theme)
    if form.target.data == NO_TARGET:
        flash("Move the ticked observations to: choose a theme, or “No theme”. Nothing was moved.", "error")
        return _back(partnership, theme)
    target = None if form.target.data == NO_THEME else _theme(partnership, form.target.data)
    if target is not None and target.id == theme.id:
        flash("Move the ticked observations to: choose another theme. Nothing was moved.", "error")
        return _back(partnership, theme)

    def apply() -> None:
        for observation_id in ticked:
            theme_ops.move_observation(partnership, observation_id, target, current_user)

    where = f"“{target.label}”" if target is not None else "no theme"
    apply_or_flash(apply, f"Moved {len(ticked)} observation{'s' if len(ticked) != 1 else ''} to {where}.")
    return _back(partnership, theme)


@bp.route("/<slug>/<int:theme_id>/split", methods=["POST"], endpoint="split")
def split(slug: str, theme_id: int):
    partnership = _partnership(slug)
    theme = _theme(partnership, theme_id)
    form, ticked = _correction_form(partnership, theme)
    if form is None:
        return _back(partnership, theme)
    if not (form.label.data or "").strip():
        flash("Name of the new theme: write a name. Nothing was split.", "error")
        return _back(partnership, theme)
    if not form.confirm.data:
        flash("Tick the box to confirm the split. Nothing was split.", "error")
        return _back(partnership, theme)
    made: list[Theme] = []
    if not apply_or_flash(
        lambda: made.append(theme_ops.split_theme(theme, ticked, form.label.data, current_user)),
        f"Split {len(ticked)} observation{'s' if len(ticked) != 1 else ''} off into a new theme.",
    ):
        return _back(partnership, theme)
    return redirect(url_for("themes.detail", slug=partnership.slug, theme_id=made[0].id))


@bp.route("/<slug>/<int:theme_id>/hide", methods=["POST"], endpoint="hide")
def hide(slug: str, theme_id: int):
    partnership = _partnership(slug)
    theme = _theme(partnership, theme_id)
    form = HideThemeForm()
    if not form.validate_on_submit():
        flash("The form expired; please try again.", "error")
    elif not theme.hidden and not form.confirm.data:
        flash("Tick the box to confirm hiding the theme. It was not hidden.", "error")
    else:
        theme_ops.set_hidden(theme, not theme.hidden, current_user)
        flash("Theme hidden." if theme.hidden else "Theme shown again.", "success")
    return _back(partnership, theme)


@bp.route("/<slug>/<int:theme_id>/sign-off", methods=["POST"], endpoint="sign_off")
def sign_off(slug: str, theme_id: int):
    partnership = _partnership(slug)
    theme = _theme(partnership, theme_id)
    if ActionForm().validate_on_submit():
        apply_or_flash(lambda: theme_ops.sign_off(theme, current_user), "Theme signed off.")
    return _back(partnership, theme)


@bp.route("/<slug>/refresh", methods=["POST"], endpoint="refresh")
def refresh(slug: str):
    partnership = _partnership(slug)
    if not ActionForm().validate_on_submit():
        flash("The form expired; please try again.", "error")
        return redirect(url_for("themes.partnership", slug=slug))
    job = enqueue("themes.refit", refit_themes, partnership.id, created_by=current_user)  # sent once committed
    return redirect(url_for("jobs.status", job_id=job.id))
