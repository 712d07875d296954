"""Where this period's observations were placed: the wards with most, and a map of every ward.

:func:`read` gathers the section's typed facts from an edition (every count released, and the wards' boundaries
when the map is drawn), :func:`render` writes them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from convening.composer.charts import chart, map_chart
from convening.composer.counts import Count
from webapp.extensions import db
from webapp.models import Area

if TYPE_CHECKING:
    from convening.composer.edition import Edition


@dataclass(frozen=True)
class WardCount:
    """A focus ward's observations this period, and its boundary (GeoJSON) when the map is drawn."""

    name: str
    observations: Count
    boundary: dict[str, Any] | None

    @property
    def geometry(self) -> Any:
        if self.boundary is None:
            return None
        return self.boundary.get("geometry") if self.boundary.get("type") == "Feature" else self.boundary


@dataclass(frozen=True)
class WardMapFacts:
    k: int
    placed: Count  # observations naming a ward or a smaller area
    total_now: Count
    wards: tuple[WardCount, ...]  # in the stored order
    drafting: bool  # a convenor's draft: placeholders, no map (and no boundaries read)

    @property
    def top(self) -> list[WardCount]:
        """The wards with k or more observations, most first."""
        return sorted((w for w in self.wards if w.observations.perturbed), key=lambda w: -w.observations.shown_value)


def read(edition: Edition) -> WardMapFacts:
    wards = edition.shared.get("wards", [])
    boundaries: dict[int, dict[str, Any] | None] = {}
    if not edition.tokens:
        for area in db.session.scalars(select(Area).where(Area.id.in_([w["id"] for w in wards]))):
            if area.boundary:
                boundaries[area.id] = json.loads(area.boundary)
    return WardMapFacts(
        k=edition.k,
        placed=edition.count("placed"),
        total_now=edition.count("total.now"),
        wards=tuple(WardCount(w["name"], edition.count(f"ward.{w['id']}"), boundaries.get(w["id"])) for w in wards),
        drafting=edition.tokens,
    )


def write(edition: Edition) -> tuple[str, list[dict]]:
    return render(read(edition))


def render(facts: WardMapFacts) -> tuple[str, list[dict]]:
    lines = [
        f"Where this period's observations were placed: {facts.placed} of {facts.total_now} name a ward "
        "or a smaller area; the rest concern the partnership's whole area.",
        "",
    ]
    if top := facts.top:
        lines.append("Most observations: " + "; ".join(f"{w.name} ({w.observations})" for w in top[:6]) + ".")
    charts = []
    if not facts.drafting:
        features = [
            {
                "type": "Feature",
                "geometry": w.geometry,
                "properties": {"name": w.name, "value": w.observations.value, "display": str(w.observations)},
            }
            for w in facts.wards
            if w.boundary is not None
        ]
        if features:
            charts.append(
                chart(
                    map_chart(features, "Observations by ward", "Map of wards shaded by number of observations"),
                    "Map of the partnership's wards, shaded by the number of observations this period; grey "
                    "wards had none, fewer than the threshold, or are not shown.",
                    f"Ward boundaries: ONS, Open Government Licence. Grey: none, or fewer than {facts.k}.",
                )
            )
    return "\n".join(lines), charts
