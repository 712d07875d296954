"""Where this period's observations were placed: the wards with most, and a map of every ward."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from sqlalchemy import select

from convening.composer.charts import chart, map_chart
from webapp.extensions import db
from webapp.models import Area

if TYPE_CHECKING:
    from convening.composer.edition import Edition


def write(edition: Edition) -> tuple[str, list[dict]]:
    lines = [
        f"Where this period's observations were placed: {edition.n('placed')} of {edition.n('total.now')} name a ward "
        "or a smaller area; the rest concern the partnership's whole area.",
        "",
    ]
    wards = edition.wards()
    top = sorted(((w, c) for w, c in wards if c.perturbed), key=lambda t: -t[1].shown_value)
    if top:
        lines.append("Most observations: " + "; ".join(f"{w['name']} ({edition.nward(w)})" for w, _ in top[:6]) + ".")
    charts = []
    if not edition.tokens:
        features = []
        areas = {a.id: a for a in db.session.scalars(select(Area).where(Area.id.in_([w["id"] for w, _ in wards])))}
        for w, c in wards:
            area = areas.get(w["id"])
            if area is None or not area.boundary:
                continue
            geometry = json.loads(area.boundary)
            if geometry.get("type") == "Feature":
                geometry = geometry.get("geometry")
            features.append(
                {
                    "type": "Feature",
                    "geometry": geometry,
                    "properties": {"name": w["name"], "value": c.value, "display": str(c)},
                }
            )
        if features:
            charts.append(
                chart(
                    map_chart(features, "Observations by ward", "Map of wards shaded by number of observations"),
                    "Map of the partnership's wards, shaded by the number of observations this period; grey "
                    "wards had none, fewer than the threshold, or are not shown.",
                    f"Ward boundaries: ONS, Open Government Licence. Grey: none, or fewer than {edition.k}.",
                )
            )
    return "\n".join(lines), charts
