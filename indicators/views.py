"""Area pages: the map of the partnership's areas and each area's profile (indicators beside community counts).

Who may reach them is declared in webapp.policy ("areas.index", "areas.detail"); every community count shown is
released by ``webapp.disclosure`` for the reader's audience (see indicators.community).
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, abort, current_app, render_template, request
from flask_login import current_user
from sqlalchemy import func, select

from indicators import community, gaps, index_views
from indicators.area_themes import area_themes, map_themes, theme_map_layer
from indicators.deprivation import latest_deprivation_index
from indicators.figures import area_figures, wider_only
from indicators.flags import evidence_gap, rising_where_stable
from indicators.maps import MapLayer, default_map_indicator, map_areas, map_indicators, map_layer
from indicators.releases import IOD_CAVEAT
from indicators.releases import superseded as earlier_releases_of
from indicators.theme_deprivation import theme_by_deprivation
from nlp.themes.models import Theme
from webapp import charts, disclosure, geography, policy
from webapp.extensions import db
from webapp.hierarchy import local_authority_of, partnership_wards
from webapp.models import Area, AreaLevel, Partnership

bp = Blueprint("areas", __name__, url_prefix="/areas")

MAP_LEVELS = (AreaLevel.WARD, AreaLevel.LSOA)


def _visible_partnerships() -> list[Partnership]:
    return [
        p
        for p in db.session.scalars(select(Partnership).order_by(Partnership.name))
        if policy.can_view_partnership(current_user, p)
    ]


@bp.route("/choose-map.json", endpoint="choose_map")
def choose_map():
    """The wards of a partnership (all current wards when it names none) as a map to click: the observation forms
    open it under their Area field, and a click writes "Name (CODE)" into the field (webapp/static/js/charts.js).
    Boundaries only, no figures."""
    partnership = db.session.scalar(select(Partnership).where(Partnership.slug == request.args.get("partnership", "")))
    wards = partnership_wards(partnership) if partnership is not None else []
    if not wards:
        wards = list(db.session.scalars(select(Area).where(Area.level == AreaLevel.WARD, Area.current.is_(True))
                                        .order_by(Area.name)))  # fmt: skip
    rows = [{"code": a.code, "name": a.name, "geometry": json.loads(a.boundary), "value": None, "display": a.name}
            for a in wards if a.boundary]  # fmt: skip
    if not rows:
        abort(404)
    spec = charts.choropleth(rows, "Choose a ward", "Ward", description="Map of the wards: click one to choose it",
                             width=420, height=380)  # fmt: skip
    # Only the outlines, to click: no colour scale (there is no figure) and the ward's name on hover.
    base = spec["layer"][0]
    base["mark"].update(fill="#dce8ee", stroke="#0b3d4a", strokeWidth=0.8, cursor="pointer")
    base["encoding"] = {"tooltip": [{"field": "properties.name", "title": "Ward", "type": "nominal"}]}
    spec["layer"] = [base]
    response = current_app.response_class(json.dumps(spec), mimetype="application/json")
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


@bp.route("/evidence-gaps", endpoint="gaps")
def evidence_gaps():
    """Every ward of a partnership by the one evidence-gap rule (indicators.gaps), the gaps first: the city-wide list
    the area pages and the briefing agree with. Each count is the ward page's own released total."""
    partnerships = list(db.session.scalars(select(Partnership).order_by(Partnership.name)))
    if not partnerships:
        abort(404)
    mine = _visible_partnerships()
    wanted = request.args.get("partnership")
    partnership = next((p for p in partnerships if p.slug == wanted), None) or (mine or partnerships)[0]
    since, months = community.since_for(request.args.get("months"))
    audience = community.reader_audience(current_user, partnership)
    wards = partnership_wards(partnership)
    index = latest_deprivation_index()
    shares = gaps.deprived_shares(wards, index)
    rows: list[dict[str, Any]] = []
    for ward, shown in zip(wards, community.area_totals(partnership, audience, wards, since), strict=True):
        share = shares.get(ward.id)
        rows.append({"ward": ward, "share": share, "shown": shown, "gap": gaps.is_gap(ward, share, shown)})
    rows.sort(key=lambda r: (not r["gap"], -(r["share"] or 0.0), r["ward"].name))
    return render_template(
        "indicators/gaps.html", partnership=partnership, partnerships=partnerships, audience=audience, rows=rows,
        index=index, months=months, rule=gaps.rule(disclosure.threshold()), method_note=disclosure.method_note(),
        gap_count=sum(1 for r in rows if r["gap"]),
    )  # fmt: skip


@bp.route("/", endpoint="index")
def index():
    level_names = {level.value for level in (AreaLevel.WARD, AreaLevel.LSOA, AreaLevel.LAD)}
    level = request.args.get("level", AreaLevel.WARD.value)
    if level not in level_names:
        level = AreaLevel.WARD.value
    level = AreaLevel(level)
    query = request.args.get("q", "")[:100]
    areas = geography.search_areas(query, (level,), limit=500)
    # Load the parents in one query (the list shows them; lazy loading would ask once per parent). The list is
    # kept until the page is rendered: the session's identity map holds objects only while something refers to them.
    parent_ids = {a.parent_id for a in areas if a.parent_id is not None}
    parents = list(db.session.scalars(select(Area).where(Area.id.in_(parent_ids)))) if parent_ids else []
    # Only the level shown is counted (the page names no other): counting every level read all 80,000 areas.
    shown = db.session.scalar(select(func.count()).select_from(Area).where(Area.level == level, Area.current.is_(True)))
    counts = {level: shown} if shown else {}
    # Areas a newer geography replaced (LSOAs 2011 split in 2021): listed apart, kept for older datasets.
    superseded = geography.search_areas(query, (level,), limit=100, current=False, with_vintages=True)

    partnerships = _visible_partnerships()
    chosen = next((p for p in partnerships if p.slug == request.args.get("partnership")), None)
    partnership = chosen or (partnerships[0] if partnerships else None)
    map_level = level if level in MAP_LEVELS else AreaLevel.WARD
    indicators = map_indicators(map_level)
    indicator = next((i for i in indicators if str(i.id) == request.args.get("indicator")), None)
    if indicator is None:
        indicator = default_map_indicator(indicators)
    themes = map_themes(current_user, partnership)
    chosen_theme = next((t for t in themes if f"theme-{t.id}" == request.args.get("indicator")), None)
    layer = spec = None
    if indicator is not None or chosen_theme is not None:
        shown_areas = map_areas(partnership, map_level)
        if any(a.boundary for a in shown_areas):
            if chosen_theme is not None and partnership is not None:  # a theme is chosen only in a partnership
                layer = theme_map_layer(shown_areas, map_level, partnership, chosen_theme)
            elif indicator is not None:
                layer = map_layer(shown_areas, map_level, indicator)
            if layer is not None:
                spec = charts.script_json(layer.spec())
    return render_template(
        "indicators/areas.html",
        areas=areas,
        parents=parents,
        level=level,
        query=query,
        counts=counts,
        superseded=superseded,
        partnerships=partnerships,
        partnership=partnership,
        map_level=map_level,
        indicators=indicators,
        earlier_releases=earlier_releases_of(indicators),
        indicator=None if chosen_theme else indicator,
        themes=themes,
        chosen_theme=chosen_theme,
        layer=layer,
        spec=spec,
    )


@bp.route("/<code>", endpoint="detail")
def detail(code: str):
    area = db.session.scalar(select(Area).where(Area.code == code[:20]))
    if area is None:
        abort(404)
    since, months = community.since_for(request.args.get("months"))
    figures = area_figures(area)
    sections = community.community(area, current_user, since)
    themes = area_themes(area, current_user, since)
    flags = [
        f for f in (evidence_gap(area, figures, sections), rising_where_stable(area, figures, themes)) if f is not None
    ]
    sparklines = {f.indicator.id: charts.script_json(f.sparkline) for f in figures if f.sparkline}
    map_layer, map_level = _profile_map(area)
    community_charts = {}
    for section in sections:
        rows = community.chart_rows([(r.category, r.total) for r in section.rows])
        if any(r["value"] is not None for r in rows):  # an empty chart says nothing
            community_charts[section.partnership.id] = charts.script_json(
                charts.bars(
                    rows,
                    f"Observations by category in {area.name}",
                    "Observations",
                    f"Bar chart of shared observations by category in {area.name}; counts not shown as a number "
                    "are not drawn. The table below lists every category.",
                )
            )
    return render_template(
        "indicators/area.html",
        area=area,
        la=local_authority_of(area),
        figures=figures,
        wider=wider_only(area),
        releases_caveat=IOD_CAVEAT
        if any(f.earlier and f.indicator.value_kind.value == "rank" for f in figures)
        else "",
        became=geography.changes_from(area) if area.level is AreaLevel.LSOA else [],
        came_from=geography.changes_to(area) if area.level is AreaLevel.LSOA else [],
        sparklines=sparklines,
        sections=sections,
        community_charts=community_charts,
        method_note=disclosure.method_note(),
        themes=themes,
        flags=flags,
        months=months,
        map_layer=map_layer,
        map_level=map_level,
        map_spec=charts.script_json(map_layer.spec()) if map_layer else None,
        index_rows=index_views.area_index(area, current_user),
    )


def _profile_map(area: Area) -> tuple[MapLayer | None, AreaLevel | None]:
    """The map on a profile: a local authority's wards, a ward's neighbourhoods (LSOAs), or an LSOA among its ward's
    others (current areas only), coloured by the latest overall deprivation index when there is one (else the
    first mappable indicator)."""
    if area.level is AreaLevel.LAD:
        level, areas = AreaLevel.WARD, area.current_children
    elif area.level is AreaLevel.WARD:
        level, areas = AreaLevel.LSOA, area.current_children
    elif area.level is AreaLevel.LSOA and area.parent is not None:
        level, areas = AreaLevel.LSOA, area.parent.current_children
    else:
        return None, None
    areas = [a for a in areas if a.level is level]
    indicator = default_map_indicator(map_indicators(level))
    if indicator is None or not any(a.boundary for a in areas):
        return None, None
    return map_layer(areas, level, indicator), level


@bp.route("/themes/<int:theme_id>", endpoint="theme_deprivation")
def theme_deprivation(theme_id: int):
    """Where a theme is reported against the areas' deprivation deciles (linked from the theme pages)."""
    theme = db.session.get(Theme, theme_id)
    partnership = db.session.get(Partnership, theme.partnership_id) if theme and theme.partnership_id else None
    if theme is None or partnership is None or not policy.can_curate_themes(current_user, partnership):
        abort(404)
    since, months = community.since_for(request.args.get("months", "all"))
    result = theme_by_deprivation(partnership, theme.id, since)
    rows = community.chart_rows([(f"Decile {r.decile}", r.observations) for r in result.rows])
    spec = charts.script_json(
        charts.bars(
            rows,
            f"“{theme.label}” by deprivation decile",
            "Observations",
            f"Bar chart of observations of the theme {theme.label} by the IMD decile of their LSOA (1 = most "
            "deprived 10% in England); deciles not shown as a number are not drawn. The table below lists every "
            "decile.",
            sort=False,
        )
    )
    # Observations placed only at ward level say nothing by LSOA decile: the page then leads with the wards grouped
    # by their share of deprived LSOAs, and draws no empty decile chart.
    by_ward = (
        result.placed.state is disclosure.State.ZERO
        and result.ward_placed is not None
        and bool(result.ward_placed.value)
    )
    ward_rows = community.chart_rows([(r.label, r.observations) for r in result.ward_rows])
    ward_spec = charts.script_json(
        charts.bars(
            ward_rows,
            f"“{theme.label}” by ward, wards grouped by deprivation",
            "Observations",
            f"Bar chart of observations of the theme {theme.label} placed in a ward or its LSOAs, the wards grouped by "
            "the share of their LSOAs in England's most deprived 20%; groups not shown as a number are not drawn. The "
            "table below lists every group.",
            sort=False,
        )
    )
    return render_template(
        "indicators/theme_deprivation.html",
        theme=theme,
        partnership=partnership,
        result=result,
        spec=spec if any(r["value"] for r in rows) else None,
        ward_spec=ward_spec if any(r["value"] for r in ward_rows) else None,
        by_ward=by_ward,
        months=months,
        method_note=disclosure.method_note(),
    )
