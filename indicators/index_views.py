"""Pages of the composite neighbourhood index: the partnership's indexes, one index (map, ranks with their stability,
domain breakdown, sources), the form that builds or edits it, and publishing.

Who may reach them is declared in webapp.policy ("neighbourhood_index.*"): convenors and admins build; members and
funders of the partnership read published versions. Every count of observations shown (the community domain) is
released by ``webapp.disclosure`` for the reader's audience (indicators.index_operations.community_shares).
"""

from __future__ import annotations

import json

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select

from indicators import community, index_method
from indicators import index_operations as index_ops
from indicators.index_forms import IndexForm, choices_from, theme_choices
from indicators.index_models import IndexVersion, NeighbourhoodIndex
from indicators.releases import superseded
from nlp.themes import queries as theme_queries
from webapp import charts, disclosure, policy, transactions
from webapp.extensions import db
from webapp.models import Area, AreaLevel, Partnership
from webapp.operations import OperationError

bp = Blueprint("neighbourhood_index", __name__, url_prefix="/indexes")


def _readable_partnerships() -> list[Partnership]:
    return [p for p in db.session.scalars(select(Partnership).order_by(Partnership.name))
            if policy.can_view_partnership(current_user, p)]  # fmt: skip


def _partnership_or_404(slug: str | None, convene: bool = False) -> Partnership:
    partnership = db.session.scalar(select(Partnership).where(Partnership.slug == (slug or "")))
    if partnership is None:
        abort(404)
    allowed = policy.can_convene if convene else policy.can_view_partnership
    if not allowed(current_user, partnership):
        abort(404)
    return partnership


def _index_or_404(index_id: int, convene: bool = False) -> NeighbourhoodIndex:
    index = db.session.get(NeighbourhoodIndex, index_id)
    if index is None:
        abort(404)
    _partnership_or_404(index.partnership.slug, convene)
    if not convene and index.published is None and not policy.can_convene(current_user, index.partnership):
        abort(404)  # a never-published index is its convenors' draft
    return index


@bp.route("/", endpoint="list")
def list_indexes():
    partnerships = _readable_partnerships()
    if not partnerships:
        abort(404)
    partnership = next((p for p in partnerships if p.slug == request.args.get("partnership")), partnerships[0])
    convenes = policy.can_convene(current_user, partnership)
    indexes = [i for i in index_ops.indexes_of(partnership) if convenes or i.published is not None]
    return render_template("indicators/index_list.html", partnership=partnership, partnerships=partnerships,
                           indexes=indexes, convenes=convenes)  # fmt: skip


def _themes(partnership: Partnership) -> list:
    return theme_queries.visible_themes(partnership)


def _form_page(form: IndexForm, partnership: Partnership, index: NeighbourhoodIndex | None, rows: dict,
               errors: dict[str, str], status: int = 200):  # fmt: skip
    indicators = index_ops.available_indicators(AreaLevel.WARD)
    return render_template(
        "indicators/index_form.html", form=form, partnership=partnership, index=index, indicators=indicators,
        rows=rows, errors=errors, directions=index_method.DIRECTION_LABELS, lsoa_ids={
            i.id for i in index_ops.available_indicators(AreaLevel.LSOA)}, earlier_releases=superseded(indicators),
    ), status  # fmt: skip


def _rows_of(version: IndexVersion | None) -> dict:
    rows: dict[int, dict] = {}
    if version is None:
        return rows
    for d in version.domains:
        for i in d["indicators"]:
            rows[int(i["id"])] = {"domain": d["name"], "direction": i["direction"], "weight": f"{i['weight']:g}"}
    return rows


def _handle(form: IndexForm, partnership: Partnership, index: NeighbourhoodIndex | None):
    """Validate and save a submitted form; returns a response (redirect) or the form page with its errors."""
    indicators = index_ops.available_indicators(AreaLevel.WARD)
    form.community_theme.choices = theme_choices(_themes(partnership))
    choices = choices_from(request.form, [i.id for i in indicators])
    rows = {c.indicator_id: {"domain": c.domain, "direction": c.direction, "weight": c.weight} for c in choices}
    errors: dict[str, str] = {}
    if request.method == "POST" and form.validate_on_submit():
        try:
            definition = index_ops.build_definition(
                form.level.data, choices, form.domain_weights.data or "", form.community_theme.data or None,
                form.community_weight.data or "1", form.community_direction.data, partnership,
            )  # fmt: skip
            if index is None:
                version = index_ops.create_index(partnership, form.title.data, definition, form.method.data,
                                                        current_user)  # fmt: skip
            else:
                version = index_ops.save_draft(index, definition, form.method.data, current_user,
                                                      form.title.data)  # fmt: skip
        except OperationError as exc:
            transactions.discard()
            if exc.field in form:
                form[exc.field].errors = [*form[exc.field].errors, exc.message]
            else:
                errors[exc.field or "indicators"] = exc.message
            return _form_page(form, partnership, index, rows, errors, 400)
        flash(f"Draft version {version.number} saved. Check it, then publish it.", "success")
        return redirect(url_for("neighbourhood_index.detail", index_id=version.index_id, version=version.number))
    status = 400 if request.method == "POST" else 200
    return _form_page(form, partnership, index, rows, errors, status)


@bp.route("/new", methods=["GET", "POST"], endpoint="new")
def new_index():
    slug = request.args.get("partnership")
    if not slug:  # the first partnership the convenor convenes
        slug = next((p.slug for p in _readable_partnerships() if policy.can_convene(current_user, p)), None)
    partnership = _partnership_or_404(slug, convene=True)
    form = IndexForm()
    if request.method == "GET":
        form.community_theme.choices = theme_choices(_themes(partnership))
        return _form_page(form, partnership, None, {}, {})
    return _handle(form, partnership, None)


@bp.route("/<int:index_id>/edit", methods=["GET", "POST"], endpoint="edit")
def edit_index(index_id: int):
    index = _index_or_404(index_id, convene=True)
    latest = index.latest
    if request.method == "GET":
        form = IndexForm(
            title=index.title, level=latest.level.value if latest else "ward",
            method=latest.method if latest else "zscore",
            domain_weights="; ".join(f"{d['name']} = {d['weight']:g}" for d in (latest.domains if latest else [])),
        )  # fmt: skip
        themes = _themes(index.partnership)
        form.community_theme.choices = theme_choices(themes)
        if latest is not None and latest.community:
            form.community_theme.data = int(latest.community["theme_id"])
            form.community_weight.data = f"{latest.community['weight']:g}"
            form.community_direction.data = latest.community.get("direction", index_method.WORSE)
        return _form_page(form, index.partnership, index, _rows_of(latest), {})
    return _handle(IndexForm(), index.partnership, index)


@bp.route("/<int:index_id>/publish", methods=["POST"], endpoint="publish")
def publish(index_id: int):
    index = _index_or_404(index_id, convene=True)
    latest = index.latest
    try:
        if not FlaskForm().validate_on_submit():
            raise OperationError("The form had expired: publish again.", "version")
        if latest is None:
            raise OperationError("There is no draft to publish.", "version")
        index_ops.publish_version(latest, current_user)
    except OperationError as exc:
        transactions.discard()
        flash(exc.message, "error")
        return redirect(url_for("neighbourhood_index.detail", index_id=index.id))
    flash(f"Version {latest.number} published: it will not change; editing makes a new draft.", "success")
    return redirect(url_for("neighbourhood_index.detail", index_id=index.id))


def _map_spec(reading: index_ops.Reading) -> str | None:
    by_id = reading.result.by_area()
    rows = []
    for area in reading.areas:
        r = by_id.get(area.id)
        if not area.boundary:
            continue
        rank = f"rank {r.rank} of {len(reading.result.ranked)}" if r and r.rank else "no index"
        score = None if r is None or r.score is None else round(r.score, 3)
        rows.append({"code": area.code, "name": area.name, "geometry": json.loads(area.boundary), "value": score,
                     "display": rank})  # fmt: skip
    if not rows:
        return None
    spec = charts.choropleth(
        rows, f"{reading.version.index.title} (version {reading.version.number})", "Index score (higher = more need)",
        "worse", description=f"Map of {len(rows)} areas coloured by the index score; darker is more need. The table "
        "below lists every area's rank, its range and its domain scores.",
    )  # fmt: skip
    return charts.script_json(spec)


@bp.route("/<int:index_id>", endpoint="detail")
def detail(index_id: int):
    index = _index_or_404(index_id)
    convenes = policy.can_convene(current_user, index.partnership)
    wanted = request.args.get("version", type=int)
    visible = [v for v in index.versions if v.is_published or convenes]
    version = next((v for v in visible if v.number == wanted), None) if wanted else None
    if wanted and version is None:
        abort(404)
    version = version or (index.latest if convenes else index.published)
    if version is None:
        abort(404)
    audience = community.reader_audience(current_user, index.partnership)
    reading = index_ops.reading(version, audience)
    return render_template(
        "indicators/index_detail.html", index=index, version=version, versions=visible, reading=reading,
        convenes=convenes, spec=_map_spec(reading), rows=reading.rows(), ranked=len(reading.result.ranked),
        method_note=disclosure.method_note(), publish_form=FlaskForm(), audience=audience,
    )  # fmt: skip


def area_index(area: Area, user) -> list[dict]:
    """For an area's profile: each covering partnership's latest published index at the area's level, with the
    area's rank, its range over the random weightings and its domain scores (read for the reader's audience)."""
    if area.level not in (AreaLevel.WARD, AreaLevel.LSOA):
        return []
    out = []
    for partnership in community.partnerships_covering(area):
        if not policy.can_view_partnership(user, partnership):
            continue
        for index in index_ops.indexes_of(partnership):
            version = index.published
            if version is None or version.level is not area.level:
                continue
            reading = index_ops.reading(version, community.reader_audience(user, partnership))
            row = reading.result.by_area().get(area.id)
            if row is None:
                continue
            out.append({"index": index, "version": version, "reading": reading, "r": row,
                        "ranked": len(reading.result.ranked), "community": reading.community.get(area.id)})  # fmt: skip
    return out
