"""The PDF helper: renders A4 with bundled fonts, fetches nothing outside the app, keeps its limits."""

from __future__ import annotations

import pytest
from markupsafe import Markup

from convening import pdf
from convening.markdown import render_markdown
from tests.convening.hostile import embedded_files, hostile_text, listening, payloads, pdf_plain

TEMPLATE = "convening/pdf/briefing.html"


def _doc(text: str, sections: int = 2, body: str | None = None) -> dict:
    return {
        "title": text,
        "partnership": text,
        "session_title": text,
        "session_date": text,
        "session_place": text,
        "focus": text,
        "period": text,
        "attending": [text, text],
        "agenda": [text, text],
        "notes": [text],
        "status": text,
        "is_draft": True,
        "k": 5,
        "has_machine": True,
        "sections": [
            {
                "anchor": f"s{i}",
                "kind": "custom",
                "title": text,
                "flow": False,
                "machine_written": True,
                "figures": [],
                "html": render_markdown(body if body is not None else text),
            }
            for i in range(sections)
        ],
    }


@pytest.fixture(scope="module")
def pdf_app(tmp_path_factory):
    """Rendering never touches the database: one SQLite app is enough (the app fixture would run it twice)."""
    from tests.conftest import app_config
    from webapp import create_app

    instance = tmp_path_factory.mktemp("pdf-instance")
    return create_app(app_config("sqlite://", instance))


@pytest.fixture
def ctx(pdf_app):
    with pdf_app.app_context():
        yield


def test_renders_tagged_a4_with_bundled_fonts(ctx):
    result = pdf.render_pdf(TEMPLATE, {"doc": _doc("Food insecurity in Easton")})
    assert result.pdf.startswith(b"%PDF-")
    assert result.pages >= 3  # cover, contents, sections (which flow on from each other)
    plain = pdf_plain(result.pdf)
    assert b"/StructTreeRoot" in plain  # tagged
    assert b"+DejaVu-Sans" in plain  # a subset of the bundled font is embedded
    assert b"/MediaBox [0 0 595" in plain  # A4 width in points
    assert "/static/fonts/DejaVuSans.ttf" in result.served
    assert result.refused == []


def test_hostile_content_in_every_field_fetches_and_embeds_nothing(ctx):
    with listening() as listener:
        text = hostile_text(listener.url)
        result = pdf.render_pdf(TEMPLATE, {"doc": _doc(text, body=text)})
        assert listener.requests == []
    assert embedded_files(result.pdf) == []
    assert b"root:x:0:0" not in pdf_plain(result.pdf)
    # Escaping and sanitising kept every address away from the renderer; it fetched only its own assets.
    assert result.refused == []
    assert all(path.startswith(("/static/", "/generated/")) for path in result.served)
    assert result.pages < 10  # the huge CSS values never reached the layout


def test_unsanitised_markup_is_still_refused_by_the_fetcher(ctx):
    """Defence in depth: markup that slipped past sanitising reaches the fetcher, which refuses every address."""
    with listening() as listener:
        raw = " ".join(p for p in payloads(listener.url) if "99999999px" not in p and "1e9pt" not in p)
        doc = _doc("Raw markup")
        doc["sections"][0]["html"] = Markup(raw)  # noqa: S704 - deliberately unsafe: this is the attack
        result = pdf.render_pdf(TEMPLATE, {"doc": doc})
        assert listener.requests == []
    assert embedded_files(result.pdf) == []
    assert b"root:x:0:0" not in pdf_plain(result.pdf)
    assert {u.split(":", 1)[0] for u in result.refused} >= {"file", "http", "data", "https"}


def test_huge_css_values_in_unsanitised_markup_hit_the_time_limit(ctx):
    doc = _doc("Huge")
    doc["sections"][0]["html"] = Markup(  # noqa: S704 - deliberately unsafe: this is the attack
        "<style>body { font-size: 99999999px; width: 1e30px }</style><p>x</p>" * 3
    )
    with pytest.raises(pdf.PdfLimitExceeded, match="seconds|pages"):
        pdf.render_pdf(TEMPLATE, {"doc": doc}, limits=pdf.Limits(max_seconds=3, max_pages=50))


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "http://127.0.0.1:9/x.png",
        "https://example.org/x.css",
        "data:text/plain,hello",
        "ftp://example.org/x",
        "https://commintel.invalid/static/../../../../etc/passwd",
        "https://commintel.invalid/static/../__init__.py",
        "https://commintel.invalid/static/css/../../models.py",
        "https://commintel.invalid/generated/not-registered.svg",
        "https://user@commintel.invalid/static/css/briefing.css",
        "https://commintel.invalid.example.org/static/css/briefing.css",
        "relative/path.css",
    ],
)
def test_fetcher_refuses_anything_but_own_assets(url):
    fetcher = pdf.AssetFetcher({"chart.svg": b"<svg/>"})
    with pytest.raises(pdf.ForbiddenResource):
        fetcher.fetch(url)
    assert fetcher.refused


def test_fetcher_serves_static_and_generated():
    fetcher = pdf.AssetFetcher({"chart-1.svg": b"<svg/>"})
    assert fetcher.fetch(pdf.generated_url("chart-1.svg")).read() == b"<svg/>"
    css = fetcher.fetch(pdf.BASE_URL + "css/briefing.css")
    assert css.content_type == "text/css"
    assert b"@font-face" in css.read()


def test_page_limit_is_enforced_with_a_clear_message(ctx):
    rows = "\n".join(f"| row {i} | {i} |" for i in range(120))
    doc = _doc("Long", sections=2, body="| a | b |\n|---|---|\n" + rows)
    with pytest.raises(pdf.PdfLimitExceeded, match="limit is 3"):
        pdf.render_pdf(TEMPLATE, {"doc": doc}, limits=pdf.Limits(max_pages=3))


def test_time_limit_is_enforced_with_a_clear_message(ctx):
    import time

    body = "\n".join(f"| row {i} | {i} |" for i in range(3000))
    doc = _doc("Slow", body="| a | b |\n|---|---|\n" + body)
    started = time.perf_counter()
    with pytest.raises(pdf.PdfLimitExceeded, match="longer than 0.2 seconds"):
        pdf.render_pdf(TEMPLATE, {"doc": doc}, limits=pdf.Limits(max_seconds=0.2, max_pages=10_000))
    assert time.perf_counter() - started < 3


class _SlowFinaliser:
    def __del__(self):
        _busy(0.4)


def _busy(seconds: float) -> None:
    import time

    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        pass


def test_renders_ending_out_of_order_still_drop_their_timeouts_and_nothing_else(monkeypatch):
    """Two renders in two threads: the first to start ends first. The second's interruption, dropped by Python in a
    finaliser after that, must still be dropped (not reported), and any other unraisable error still reported."""
    import sys
    from types import SimpleNamespace

    reported = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)
    first, second = pdf._thread_deadline(60), pdf._thread_deadline(60)
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    try:
        sys.unraisablehook(SimpleNamespace(exc_value=pdf._Timeout()))
        other = SimpleNamespace(exc_value=RuntimeError("a finaliser failed"))
        sys.unraisablehook(other)
    finally:
        second.__exit__(None, None, None)
    assert reported == [other]


def test_a_deadline_dropped_inside_a_finaliser_fires_again():
    """CI once saw the alarm land inside a weakref callback: Python printed "Exception ignored", dropped the timeout
    and the render ran on to the end. The deadline must fire again, and the dropped timeout is not an error."""
    import gc
    import time

    started = time.perf_counter()
    with pytest.raises(pdf._Timeout), pdf._deadline(0.1):  # noqa: PT012 - the timeout lands in the second step
        victim = _SlowFinaliser()
        del victim  # its __del__ runs past the limit: the first timeout lands there and is dropped
        gc.collect()
        _busy(3)
    # Fired again: about 0.5 s (the finaliser's 0.4 s, then the next 0.05 s tick). Had it been dropped for good the
    # busy loop would run to its end, 3.4 s in all; 1.5 s failed once on a loaded 2-core machine (1.55 s).
    assert time.perf_counter() - started < 2.5


def test_markdown_is_sanitised():
    with listening() as listener:
        html = str(render_markdown(hostile_text(listener.url)))
    for forbidden in ("<style", "<link", "<img", "<object", "<iframe", "<embed", "<svg", "style=", "file:", "src="):
        assert forbidden not in html
    assert "styled" in html


def test_charts_never_fetch_data():
    with listening() as listener:
        spec = {"data": {"url": f"{listener.url}/data.json"}, "mark": "bar", "encoding": {}}
        with pytest.raises(ValueError):  # noqa: PT011 - vl-convert's message varies between versions
            pdf.vegalite_svg(spec)
        assert listener.requests == []
    svg = pdf.vegalite_svg(
        {
            "data": {"values": [{"a": "x", "n": 3}]},
            "mark": "bar",
            "encoding": {"x": {"field": "a"}, "y": {"field": "n", "type": "quantitative"}},
        }
    )
    assert svg.startswith(b"<svg")


def test_payload_list_covers_the_brief():
    kinds = " ".join(payloads("http://127.0.0.1:1"))
    for needle in ('rel="attachment"', "file:///etc/passwd", "http://127.0.0.1", "url(", "99999999px"):
        assert needle in kinds


def test_time_limit_stops_a_render_in_a_worker_thread(pdf_app):
    """The embedded worker renders in a thread pool, where no signal reaches: the limit must still stop the render
    while it runs, not only be noticed once the layout is done."""
    import threading
    import time

    body = "\n".join(f"| row {i} | {i} |" for i in range(6000))
    doc = _doc("Slow", body="| a | b |\n|---|---|\n" + body)
    outcome: dict = {}

    def render() -> None:
        started = time.perf_counter()
        with pdf_app.app_context():
            try:
                pdf.render_pdf(TEMPLATE, {"doc": doc}, limits=pdf.Limits(max_seconds=0.5, max_pages=10_000))
            except pdf.PdfLimitExceeded as exc:
                outcome["error"] = exc.message
        outcome["seconds"] = time.perf_counter() - started

    worker = threading.Thread(target=render)
    worker.start()
    worker.join(timeout=120)
    assert "longer than 0.5 seconds" in outcome.get("error", "")
    assert outcome["seconds"] < 5, f"the render ran on for {outcome['seconds']:.1f} s after its 0.5 s limit"
