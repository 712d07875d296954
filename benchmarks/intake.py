"""Intake speed: import 10,000 CSV rows (target < 30 s) and the web form POST with 20,000 observations stored
(target: 95th percentile < 150 ms). Prints the figures.

    .venv/bin/python benchmarks/intake.py                      # SQLite file in a temporary folder
    .venv/bin/python benchmarks/intake.py --database-url postgresql://commintel:commintel@127.0.0.1:5432/bench \\
        --redis-url redis://127.0.0.1:6379/0

The PostgreSQL database is emptied (drop_all) first: point it at a scratch database. Background tasks (the NLP
package's redaction, which listens for new observations) are queued to the broker as in production, not run
inline, so this measures intake without redaction or theming, as the issue asks.
"""

from __future__ import annotations

import argparse
import csv
import io
import statistics
import tempfile
import time
from pathlib import Path

from webapp import create_app
from webapp import operations as webapp_ops
from webapp.extensions import db
from webapp.models import Area, AreaLevel, OrgRole

WARDS = ["Ashley", "Easton", "Lawrence Hill", "Filwood", "Southmead", "Knowle", "Bedminster", "Lockleaze"]
TEXTS = [
    "Families are asking for emergency food parcels at the end of every month, more than last year.",
    "Damp and mould in the back bedrooms of the flats; children coughing all winter.",
    "The youth club on Thursday evenings is full and has a waiting list of twenty young people.",
    "Older people tell us they have not spoken to anyone for a week since the lunch club closed.",
]
CATEGORIES = ["food", "housing-and-homelessness", "community-activities-and-assets", "loneliness-and-isolation"]


def make_csv(rows: int, start: int = 0) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Ref", "Date", "Ward", "Kind", "Category", "Notes", "People"])
    for i in range(start, start + rows):
        kind = "asset" if i % 4 == 2 else "need"
        day = f"2025-{i % 12 + 1:02d}-{i % 27 + 1:02d}"
        text = f"{TEXTS[i % 4]} (case {i})"
        writer.writerow([f"B{i}", day, WARDS[i % len(WARDS)], kind, CATEGORIES[i % 4], text, i % 40])
    return out.getvalue().encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: an SQLite file in a temporary folder")
    parser.add_argument("--redis-url", help="task broker as in production (default: the embedded SQLite broker)")
    parser.add_argument("--no-listeners", action="store_true",
                        help="mute the observation signals, to time intake alone (no NLP tasks queued)")  # fmt: skip
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--stored", type=int, default=20_000)
    parser.add_argument("--posts", type=int, default=200)
    args = parser.parse_args()

    from submissions import importer, signals, spreadsheets
    from submissions import operations as submission_ops

    if args.no_listeners:
        signals.observations_saved.receivers.clear()
        signals.observations_saved._by_sender.clear()

    tmp = Path(tempfile.mkdtemp(prefix="commintel-bench-"))
    url = args.database_url or f"sqlite:///{tmp}/bench.db"
    app = create_app({"COMMINTEL_ENV": "testing", "DATABASE_URL": url, "REDIS_URL": args.redis_url,
                      "COMMINTEL_INSTANCE_DIR": str(tmp), "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False,
                      "CELERY_TASK_ALWAYS_EAGER": False})  # fmt: skip
    with app.app_context():
        db.drop_all()
        db.create_all()
        bristol = Area(code="E06000023", name="Bristol, City of", level=AreaLevel.LAD)
        db.session.add(bristol)
        for n, name in enumerate(WARDS):
            db.session.add(Area(code=f"E0501{n:04d}", name=name, level=AreaLevel.WARD, parent=bristol))
        submission_ops.ensure_default_categories()
        org = webapp_ops.create_organisation("Benchmark Food Share", "charity")
        webapp_ops.create_partnership("Benchmark Partnership", "bench", areas=[bristol], members=[org])
        member = webapp_ops.create_user("bench@example.org", "correct horse battery", "Bench",
                                        organisation=org, org_role=OrgRole.MEMBER)  # fmt: skip
        db.session.commit()

        data = make_csv(args.rows)
        started = time.perf_counter()
        table = spreadsheets.read_table(data, "bench.csv")
        result = importer.import_table(table, importer.guess_mapping(table.headers), org, member)
        db.session.commit()
        seconds = time.perf_counter() - started
        print(f"import: {result.imported:,} rows in {seconds:.2f} s ({result.imported / seconds:,.0f} rows/s); "
              f"target < 30 s: {'PASS' if seconds < 30 else 'FAIL'}")  # fmt: skip

        # Fill up to the stored count, then time the form.
        start = args.rows
        while start < args.stored:
            chunk = min(10_000, args.stored - start)
            table = spreadsheets.read_table(make_csv(chunk, start), "more.csv")
            importer.import_table(table, importer.guess_mapping(table.headers), org, member)
            db.session.commit()
            start += chunk
        db.session.remove()

    client = app.test_client()
    client.post("/auth/login", data={"email": "bench@example.org", "password": "correct horse battery"})
    form = {"kind": "need", "category": "food", "text": TEXTS[0], "area": "Easton (E05010001)",
            "period": "2025-03", "people_affected": "12", "groups": ["families"], "trend": "worse",
            "source": "frontline_contact", "confidence": "high", "sharing_level": "partnership"}  # fmt: skip
    client.post("/observations/new", data=form)  # warm up caches and templates
    timings = []
    for _ in range(args.posts):
        started = time.perf_counter()
        response = client.post("/observations/new", data=form)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 302, response.status_code
    timings.sort()
    p95 = timings[int(len(timings) * 0.95) - 1]
    with app.app_context():
        from sqlalchemy import func, select

        from submissions.models import Observation

        stored = db.session.scalar(select(func.count()).select_from(Observation))
        db.engine.dispose()
    print(f"form POST with {stored:,} observations stored ({args.posts} posts): median "
          f"{statistics.median(timings):.1f} ms, p95 {p95:.1f} ms; target p95 < 150 ms: "
          f"{'PASS' if p95 < 150 else 'FAIL'}  [{app.config['SQLALCHEMY_DATABASE_URI'].split(':')[0]}, "
          f"broker {'redis' if args.redis_url else 'embedded sqlite'}"
          f"{', listeners muted' if args.no_listeners else ''}]")  # fmt: skip


if __name__ == "__main__":
    main()
