"""Benchmark: render a 10–15 page briefing with six charts and a map of Bristol's 34 wards to PDF.

Target (issue 6): under 5 s, peak memory under 500 MB. Measures the whole path a published version takes in the
render task: Vega-Lite → SVG with vl-convert for every chart and the map, Markdown → sanitised HTML, Jinja, WeasyPrint
(tagged PDF, bundled fonts, the restricted fetcher). Data are synthetic counts; boundaries are the real ONS ward
boundaries vendored for the demo.

    .venv/bin/python benchmarks/briefing.py [--runs 3] [--out /tmp/briefing-benchmark.pdf]

Prints one line per run and a summary; exits 1 if the median run misses a target.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TIME_TARGET_S = 5.0
MEMORY_TARGET_MB = 500


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def build_document() -> dict:
    from convening.composer.charts import bar_chart, chart, d3_winding, line_chart, map_chart

    rng = random.Random(20261123)  # noqa: S311 - synthetic figures, not secrets
    categories = ["Food", "Money and debt", "Housing and homelessness", "Physical health",
                  "Mental health and wellbeing", "Loneliness and isolation", "Transport and access",
                  "Children and young people", "Work and employment", "Safety and crime"]  # fmt: skip
    wards = json.loads((ROOT / "webapp" / "demo_data" / "bristol_wards.geojson").read_text())["features"]
    names = [f["properties"]["WD25NM"] for f in wards]

    def bars(title, labels, series):
        rows = [{"label": lab, "value": rng.randint(5, 60), "period": s} for lab in labels for s in series]
        return bar_chart(rows, title, "Observations", title, color_field="period")

    weeks = [{"week": f"2026-{m:02d}-{d:02d}", "series": s, "value": rng.randint(5, 30)}
             for m in range(6, 12) for d in (1, 15) for s in ("Needs", "Assets")]  # fmt: skip
    charts = [
        chart(bars("Observations by category", categories, ["This period", "Previous period"]), "bars", "c1"),
        chart(line_chart(weeks, "Observations per week", "weekly"), "line", "c2"),
        chart(bars("Needs and assets by category", categories, ["Needs", "Assets"]), "bars", "c3"),
        chart(
            bar_chart(
                [{"label": n, "value": rng.randint(0, 95)} for n in names[:20]],
                "Most deprived 20% by ward",
                "% of LSOAs",
                "deprivation",
            ),
            "bars",
            "c4",
        ),  # fmt: skip
        chart(
            bars(
                "Observations by kind of organisation",
                ["Charity", "Mutual aid", "Residents", "Public body"],
                ["This period"],
            ),
            "bars",
            "c5",
        ),  # fmt: skip
        chart(
            bar_chart(
                [{"label": c, "value": rng.randint(5, 40)} for c in categories],
                "Quotes available by category",
                "Observations",
                "quotes",
            ),
            "bars",
            "c6",
        ),  # fmt: skip
    ]
    features = [
        {"type": "Feature", "geometry": d3_winding(f["geometry"]),
         "properties": {"name": f["properties"]["WD25NM"], "value": rng.choice([None, *range(5, 40)])}}
        for f in wards
    ]  # fmt: skip
    the_map = chart(map_chart(features, "Observations by ward", "map"), "map", "Ward boundaries: ONS")

    def table(rows: int) -> str:
        lines = ["| Ward | Needs | Assets | Change | Note |", "|---|---:|---:|---|---|"]
        for i in range(rows):
            lines.append(
                f"| {names[i % len(names)]} | {rng.randint(5, 90)} | {rng.randint(0, 40)} | "
                f"{rng.choice(['rising', 'steady', 'falling'])} | recorded by {rng.randint(2, 9)} groups |"
            )
        return "\n".join(lines)

    prose = (
        "Members recorded more observations about food and fuel this period than in any since the partnership "
        "began. Most came from frontline contact in the east of the city; several groups describe the same "
        "families returning week after week. "
    ) * 3
    quotes = "\n\n".join(f"> Parents tell us they skip meals so the children can eat before payday ({i}).\n>\n"
                         "> — a charity" for i in range(12))  # fmt: skip
    sections = [
        ("headlines", "Headline changes", prose + "\n\n" + table(20), charts[:2]),
        ("needs_assets", "Needs and assets side by side", prose + "\n\n" + table(34), charts[2:3]),
        ("indicators", "Indicator context", prose + "\n\n" + table(24), charts[3:4]),
        ("map", "Map", prose, [the_map]),
        ("quotes", "In their words", quotes, []),
        ("gaps", "Evidence gaps", prose + "\n\n" + table(16), charts[4:6]),
        ("actions", "Actions carried over", table(12), []),
        ("questions", "Questions for discussion", "\n".join(f"{i}. Question {i}?" for i in range(1, 7)), []),
        ("provenance", "Appendix: provenance", prose + "\n\n" + table(10), []),
    ]
    from convening.markdown import render_markdown

    return {
        "title": "Briefing: Winter partnership session", "partnership": "Bristol Community Intelligence Partnership",
        "session_title": "Winter partnership session", "session_date": "Tuesday 1 December 2026",
        "session_place": "Lawrence Hill Community Hall", "focus": "The partnership's whole area",
        "period": "1 June 2026 to 30 November 2026", "attending": ["A", "B", "C"], "agenda": ["Welcome", "Actions"],
        "notes": [], "k": 5, "has_machine": True, "is_draft": False, "status": "Version 1",
        "sections": [
            {"anchor": f"section-{i}", "kind": kind, "title": title, "markdown": body,
             "html": str(render_markdown(body)), "machine_written": i % 2 == 0, "flow": False, "charts": cs,
             "quotes": []}
            for i, (kind, title, body, cs) in enumerate(sections)
        ],
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", default="/tmp/briefing-benchmark.pdf")  # noqa: S108 - a file to look at
    args = parser.parse_args()

    from convening.publishing import render_document_pdf
    from webapp import create_app

    app = create_app({"COMMINTEL_ENV": "testing", "DATABASE_URL": "sqlite://", "REDIS_URL": None,
                      "COMMINTEL_INSTANCE_DIR": "/tmp/commintel-benchmark"})  # noqa: S108  # fmt: skip
    with app.app_context():
        doc = build_document()
        charts = sum(len(s["charts"]) for s in doc["sections"])
        baseline = peak_rss_mb()
        times, cpu, pages = [], [], 0
        for run in range(1, args.runs + 1):
            started, started_cpu = time.perf_counter(), time.process_time()
            result = render_document_pdf(doc)  # charts are converted afresh every run (nothing cached)
            elapsed, used = time.perf_counter() - started, time.process_time() - started_cpu
            times.append(elapsed)
            cpu.append(used)
            pages = result.pages
            print(f"run {run}: {elapsed:.2f} s wall, {used:.2f} s CPU, {result.pages} pages, "
                  f"{len(result.pdf) / 1024:.0f} KiB, peak RSS so far {peak_rss_mb():.0f} MB")  # fmt: skip
        Path(args.out).write_bytes(result.pdf)
    median = statistics.median(times)
    peak = peak_rss_mb()
    print(
        f"briefing: {pages} pages, {charts} charts (incl. the map of 34 wards); median {median:.2f} s "
        f"(min {min(times):.2f}, max {max(times):.2f}) over {len(times)} runs; peak RSS {peak:.0f} MB "
        f"(process before rendering: {baseline:.0f} MB); targets < {TIME_TARGET_S:g} s and < {MEMORY_TARGET_MB} MB"
    )
    load = os.getloadavg()[0]
    print(
        f"CPU time: median {statistics.median(cpu):.2f} s; machine load average {load:.1f} on {os.cpu_count()} "
        "cores while measuring (wall time grows with other work on the machine)"
    )
    print(f"PDF written to {args.out}")
    ok = median < TIME_TARGET_S and peak < MEMORY_TARGET_MB and 10 <= pages <= 15
    print("PASS" if ok else "MISS")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
