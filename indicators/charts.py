"""Charts as Vega-Lite specifications, built once in Python with Altair.

The same specification is drawn in the browser (vendored vega, vega-lite, vega-embed with the CSP-safe expression
interpreter: ``webapp/static/js/charts.js``) and as SVG on the server with vl-convert (:func:`to_svg`, for PDF
briefings). Every chart carries a ``description`` (its text alternative); the pages print the data beside it.

The chart *shape* is built by Altair once per kind and cached; the data go in the top-level ``datasets`` of the
specification, so a page pays for JSON, not for schema validation, on every request.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from typing import Any

import altair as alt

VEGALITE_VERSION = "6.4"  # the schema Altair writes; vl-convert renders with the same version

# Colour schemes by polarity: darker = worse, so a map reads the same way whatever the indicator.
_SCHEME = {"worse": "reds", "better": "reds", "neutral": "blues"}


@lru_cache(maxsize=32)
def _choropleth_template(polarity: str, value_title: str, width: int, height: int) -> str:
    reverse = polarity == "better"  # higher is better: low values must be the dark ones
    chart = (
        alt.Chart(alt.NamedData(name="areas"))
        .mark_geoshape(stroke="#ffffff", strokeWidth=0.6)
        .encode(
            color=alt.Color(
                "properties.value:Q",
                title=value_title,
                scale=alt.Scale(scheme=_SCHEME.get(polarity, "blues"), reverse=reverse),
                legend=alt.Legend(orient="bottom", gradientLength=240, titleLimit=520),
            ),
            tooltip=[
                alt.Tooltip("properties.name:N", title="Area"),
                alt.Tooltip("properties.display:N", title=value_title),
            ],
        )
        .project(type="mercator")
        .properties(width=width, height=height)
    )
    # Areas without a value are drawn grey underneath so that the partnership's whole patch shows.
    base = (
        alt.Chart(alt.NamedData(name="areas"))
        .mark_geoshape(fill="#e5e5e5", stroke="#ffffff", strokeWidth=0.6)
        .project(type="mercator")
    )
    layered = alt.layer(base, chart.transform_filter("isValid(datum.properties.value)"))
    return json.dumps(layered.to_dict())


def choropleth(
    areas: list[dict[str, Any]],
    title: str,
    value_title: str,
    polarity: str = "neutral",
    description: str = "",
    width: int = 560,
    height: int = 520,
) -> dict:
    """A map of areas coloured by value.

    ``areas``: dicts with ``code``, ``name``, ``geometry`` (GeoJSON geometry dict), ``value`` (float or None) and
    ``display`` (the value as text).
    """
    spec = json.loads(_choropleth_template(polarity, value_title, width, height))
    spec["title"] = title
    spec["description"] = description or f"Map of {title}"
    spec["datasets"] = {
        "areas": [
            {
                "type": "Feature",
                "geometry": a["geometry"],
                "properties": {"code": a["code"], "name": a["name"], "value": a["value"], "display": a["display"]},
            }
            for a in areas
            if a.get("geometry")
        ]
    }
    return spec


@lru_cache(maxsize=8)
def _sparkline_template(width: int, height: int) -> str:
    chart = (
        alt.Chart(alt.NamedData(name="series"))
        .mark_line(strokeWidth=1.5, color="#1d4f91", point=alt.OverlayMarkDef(size=12, color="#1d4f91"))
        .encode(
            x=alt.X("start:T", axis=None),
            y=alt.Y("value:Q", axis=None, scale=alt.Scale(zero=False)),
            tooltip=[alt.Tooltip("period:N", title="Period"), alt.Tooltip("display:N", title="Value")],
        )
        .properties(width=width, height=height)
        .configure_view(stroke=None)
    )
    return json.dumps(chart.to_dict())


def sparkline(series: list[dict[str, Any]], description: str, width: int = 140, height: int = 32) -> dict:
    """A small trend line. ``series``: dicts with ``start`` (ISO date), ``period`` (label), ``value``, ``display``."""
    spec = json.loads(_sparkline_template(width, height))
    spec["description"] = description
    spec["datasets"] = {"series": [s for s in series if s.get("value") is not None]}
    spec["padding"] = 2
    return spec


@lru_cache(maxsize=8)
def _bars_template(value_title: str, sort: bool = True) -> str:
    chart = (
        alt.Chart(alt.NamedData(name="bars"))
        .mark_bar(color="#1d4f91")
        .encode(
            x=alt.X("value:Q", title=value_title, axis=alt.Axis(tickMinStep=1, format="d")),
            y=alt.Y("label:N", title=None, sort="-x" if sort else None),
            tooltip=[alt.Tooltip("label:N", title="Group"), alt.Tooltip("display:N", title=value_title)],
        )
        .properties(width=360)
    )
    return json.dumps(chart.to_dict())


def bars(rows: list[dict[str, Any]], title: str, value_title: str, description: str, sort: bool = True) -> dict:
    """Horizontal bars; ``rows``: ``label``, ``value`` (None rows — suppressed counts — are not drawn).
    ``sort``: largest first; otherwise in the order given."""
    spec = json.loads(_bars_template(value_title, sort))
    spec["title"] = title
    spec["description"] = description
    spec["datasets"] = {"bars": [r for r in rows if r.get("value") is not None]}
    return spec


def to_svg(spec: dict) -> str:
    """The chart as an SVG document, drawn on the server (for PDF briefings); no network access."""
    import vl_convert as vlc

    return vlc.vegalite_to_svg(copy.deepcopy(spec), vl_version=VEGALITE_VERSION, allowed_base_urls=[])


def script_json(spec: dict) -> str:
    """The specification as text safe inside ``<script type="application/json">`` (no ``</script>`` break-out)."""
    text = json.dumps(spec, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
