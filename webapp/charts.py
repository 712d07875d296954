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
                # Altair types scheme as a Literal of Vega's names; _SCHEME holds only such names.
                scale=alt.Scale(scheme=_SCHEME.get(polarity, "blues"), reverse=reverse),  # type: ignore[arg-type]
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


def sparkline(
    series: list[dict[str, Any]], description: str, width: int = 140, height: int = 32, gaps: bool = False
) -> dict:
    """A small trend line. ``series``: dicts with ``start`` (ISO date), ``period`` (label), ``value``, ``display``.

    ``gaps``: a point without a value (a count not released as a number) breaks the line there instead of being
    skipped, so a suppressed month is a gap, not a straight line across it."""
    spec = json.loads(_sparkline_template(width, height))
    spec["description"] = description
    spec["datasets"] = {"series": series if gaps else [s for s in series if s.get("value") is not None]}
    if gaps:
        spec["mark"]["invalid"] = "break-paths-show-domains"
        spec["encoding"]["y"]["scale"] = {"zero": True}
    spec["padding"] = 2
    # The row's own colour shows through (a white box sat on the theme list's shaded rows).
    spec["background"] = "transparent"
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


@lru_cache(maxsize=4)
def _periods_template(value_title: str) -> str:
    x = alt.X("label:N", title=None, sort=None, axis=alt.Axis(labelAngle=0, labelLimit=160))
    bars = (
        alt.Chart(alt.NamedData(name="periods"))
        .transform_filter("isValid(datum.value)")
        .mark_bar(color="#1d4f91")
        .encode(
            x=x,
            y=alt.Y("value:Q", title=value_title, axis=alt.Axis(tickMinStep=1, format="d")),
            tooltip=[alt.Tooltip("label:N", title="Period"), alt.Tooltip("display:N", title=value_title)],
        )
    )
    # A period not released as a number is a gap with its words on it ("<5"), never a bar of 0.
    gaps = (
        alt.Chart(alt.NamedData(name="periods"))
        .transform_filter("!isValid(datum.value)")
        .mark_text(baseline="bottom", dy=-2, color="#595959", fontStyle="italic")
        .encode(
            x=x,
            y=alt.datum(0),
            text="short:N",
            tooltip=[alt.Tooltip("label:N", title="Period"), alt.Tooltip("display:N", title=value_title)],
        )
    )
    return json.dumps(alt.layer(bars, gaps).properties(width="container", height=180).to_dict())


def periods(rows: list[dict[str, Any]], title: str, value_title: str, description: str) -> dict:
    """Counts over consecutive periods, oldest first. ``rows``: ``start`` (ISO date), ``label``, ``value`` (None when
    not released as a number: drawn as a gap carrying ``short``, e.g. "<5", not as 0), ``display``, ``short``."""
    spec = json.loads(_periods_template(value_title))
    for layer in spec["layer"]:  # oldest first, as given (a nominal axis would sort the labels alphabetically)
        layer["encoding"]["x"]["sort"] = [r["label"] for r in rows]
    spec["title"] = title
    spec["description"] = description
    spec["datasets"] = {"periods": rows}
    return spec


@lru_cache(maxsize=4)
def _heatmap_template(value_title: str) -> str:
    base = alt.Chart(alt.NamedData(name="cells")).encode(
        x=alt.X("column:N", title=None, sort=None, axis=alt.Axis(labelAngle=-45, labelLimit=160, orient="top")),
        y=alt.Y("row:N", title=None, sort=None, axis=alt.Axis(labelLimit=240, labelFontSize=12)),
        tooltip=[
            alt.Tooltip("row:N", title="Theme"),
            alt.Tooltip("column:N", title="Ward"),
            alt.Tooltip("display:N", title=value_title),
        ],
    )
    shown = (
        base.transform_filter("isValid(datum.value)")
        .mark_rect(stroke="#ffffff")
        .encode(
            color=alt.Color(
                "value:Q", title=value_title, scale=alt.Scale(scheme="blues"), legend=alt.Legend(orient="bottom")
            )
        )
    )
    # Cells not released as a number: light grey with their words, so a gap never reads as a low count.
    hidden = base.transform_filter("!isValid(datum.value)").mark_rect(fill="#eeeeee", stroke="#ffffff")
    words = (
        base.transform_filter("!isValid(datum.value)").mark_text(fontSize=10, color="#595959").encode(text="short:N")
    )
    layered = alt.layer(shown, hidden, words).properties(width=alt.Step(30), height=alt.Step(24))
    return json.dumps(layered.to_dict())


def heatmap(cells: list[dict[str, Any]], title: str, value_title: str, description: str) -> dict:
    """Rows × columns of counts. ``cells``: ``row``, ``column``, ``value`` (None when not released as a number),
    ``display``, ``short`` (what a grey cell says, e.g. "<5"); rows and columns keep the order given."""
    spec = json.loads(_heatmap_template(value_title))
    spec["title"] = title
    spec["description"] = description
    spec["datasets"] = {"cells": cells}
    return spec


def short(released) -> str:
    """A released count in a few characters, for a chart: the number, "<k" or "–" (not shown)."""
    if released.value is not None:
        return f"{released.value:,}"
    return f"<{released.k}" if released.hidden else "–"


def to_svg(spec: dict) -> str:
    """The chart as an SVG document, drawn on the server (for PDF briefings); no network access."""
    import vl_convert as vlc  # noqa: PLC0415 - heavy: loaded only when a PDF briefing draws its charts

    return vlc.vegalite_to_svg(copy.deepcopy(spec), vl_version=VEGALITE_VERSION, allowed_base_urls=[])


def script_json(spec: dict) -> str:
    """The specification as text safe inside ``<script type="application/json">`` (no ``</script>`` break-out)."""
    text = json.dumps(spec, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
