"""The briefing's charts: plain Vega-Lite dicts with inline data, so that the same specification draws on the web page
and in the PDF (:func:`convening.pdf.vegalite_svg`). One builder (:func:`vega_lite`) writes every specification's
frame; the bar, line and map charts add their marks and encodings.
"""

from __future__ import annotations

from datetime import date
from typing import Any

SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
SERIES_COLOURS = {
    "This period": "#0b5a6b",
    "Previous period": "#9aa5b1",
    "Needs": "#c75000",
    "Assets": "#0b5a6b",
}
OTHER_SERIES_COLOUR = "#5b3a8c"
# Ticks on whole numbers (counts; percentages of 0-100): no "0.5 observations" tick when the largest bar is 5, as
# webapp.charts draws its axes.
WHOLE_AXIS = {"tickMinStep": 1, "format": "d"}


def vega_lite(
    values: list[dict], title: str, description: str, width: int, height: int | None = None, **view: Any
) -> dict:
    """A Vega-Lite specification of ``values`` (inline data) with its title, description (read by screen readers)
    and size; ``view`` adds the mark and encoding (or layers, projection, data format)."""
    spec: dict[str, Any] = {"$schema": SCHEMA, "title": title, "description": description, "width": width}
    if height is not None:
        spec["height"] = height
    data_format = view.pop("data_format", None)
    spec["data"] = {"values": values, "format": data_format} if data_format else {"values": values}
    return {**spec, **view}


def bar_chart(rows: list[dict], title: str, x_title: str, description: str, color_field: str | None = None) -> dict:
    encoding: dict = {
        "y": {"field": "label", "type": "nominal", "title": None, "sort": None, "axis": {"labelLimit": 220}},
        "x": {"field": "value", "type": "quantitative", "title": x_title, "axis": WHOLE_AXIS},
    }
    if color_field:
        series = list(dict.fromkeys(r[color_field] for r in rows))
        scale = {"domain": series, "range": [SERIES_COLOURS.get(name, OTHER_SERIES_COLOUR) for name in series]}
        encoding["color"] = {
            "field": color_field, "type": "nominal", "title": None, "legend": {"orient": "bottom"}, "scale": scale,
        }  # fmt: skip
        encoding["yOffset"] = {"field": color_field, "type": "nominal"}
    return vega_lite(rows, title, description, 380, mark={"type": "bar"}, encoding=encoding)


def _week_axis(rows: list[dict]) -> dict:
    """Ticks a 420-pixel axis has room for, on the weeks' own Mondays (Vega's week ticks fall on Sundays): every week
    up to ten, every other week up to twenty, then one label a month (two-weekly labels overlapped one another on a
    six-month period)."""
    weeks = sorted({r["week"] for r in rows})
    if len(weeks) > 20:
        # The year on the first label and on January's only: "Jun 2026" on every month did not fit.
        year_on = "datum.index == 0 || month(datum.value) == 0"
        return {"labelExpr": f"timeFormat(datum.value, {year_on} ? '%b %Y' : '%b')",
                "tickCount": {"interval": "month", "step": 1}, "labelOverlap": "greedy"}  # fmt: skip
    ticks = [date.fromisoformat(w) for w in weeks[:: 1 if len(weeks) <= 10 else 2]]
    values = [{"year": d.year, "month": d.month, "date": d.day, "utc": True} for d in ticks]
    return {"format": "%-d %b", "values": values, "labelOverlap": "greedy"}


def line_chart(rows: list[dict], title: str, description: str) -> dict:
    """Needs and assets over time; a null ``value`` breaks the line (Vega-Lite's default for path marks)."""
    drawn = [name for name in ("Needs", "Assets") if any(r["series"] == name for r in rows)]  # the legend's keys
    colours = {"domain": drawn, "range": [SERIES_COLOURS[name] for name in drawn]}
    encoding = {
        "x": {"field": "week", "type": "temporal", "title": "Week beginning", "axis": _week_axis(rows)},
        "y": {"field": "value", "type": "quantitative", "title": "Observations", "axis": WHOLE_AXIS},
        "color": {"field": "series", "type": "nominal", "title": None, "legend": {"orient": "bottom"},
                  "scale": colours},
    }  # fmt: skip
    return vega_lite(rows, title, description, 420, 160, mark={"type": "line", "point": True}, encoding=encoding)


def map_chart(features: list[dict], title: str, description: str) -> dict:
    """Wards coloured by the number of observations; wards whose count is suppressed or zero are drawn grey."""
    layers = [
        {"mark": {"type": "geoshape", "fill": "#e5e5e5", "stroke": "#ffffff", "strokeWidth": 0.6}},
        {
            "transform": [{"filter": "isValid(datum.properties.value) && datum.properties.value > 0"}],
            "mark": {"type": "geoshape", "stroke": "#ffffff", "strokeWidth": 0.6},
            "encoding": {
                "color": {
                    "field": "properties.value",
                    "type": "quantitative",
                    "title": "Observations",
                    "scale": {"scheme": "teals"},
                    "legend": {"orient": "bottom", "gradientLength": 220},
                }
            },
        },
    ]
    return vega_lite(features, title, description, 440, 400, data_format={"type": "json"},
                     projection={"type": "mercator"}, layer=layers)  # fmt: skip


def _ring_area(ring: list) -> float:
    return sum(x1 * y2 - x2 * y1 for (x1, y1, *_), (x2, y2, *_) in zip(ring, ring[1:], strict=False)) / 2


def d3_winding(geometry: dict) -> dict:
    """GeoJSON (RFC 7946: exterior rings anticlockwise) rewound for d3-geo, which Vega uses and which reads an
    anticlockwise exterior ring as "the whole globe except this shape": exteriors clockwise, holes anticlockwise."""

    def fix(polygon: list) -> list:
        out = []
        for i, ring in enumerate(polygon):
            clockwise = _ring_area(ring) < 0
            want_clockwise = i == 0
            out.append(ring if clockwise == want_clockwise else list(reversed(ring)))
        return out

    if geometry.get("type") == "Polygon":
        return {"type": "Polygon", "coordinates": fix(geometry["coordinates"])}
    if geometry.get("type") == "MultiPolygon":
        return {"type": "MultiPolygon", "coordinates": [fix(p) for p in geometry["coordinates"]]}
    return geometry


def chart(spec: dict, alt: str, caption: str) -> dict:
    """A chart as a section stores it: its specification, its text alternative and its caption."""
    return {"spec": spec, "alt": alt, "caption": caption}
