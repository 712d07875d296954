"""Benchmark: the composer drafts and re-drafts a briefing for a partnership with 100,000 observations.

    BENCH_DATABASE_URL=postgresql://commintel:commintel@127.0.0.1:5432/commintel_bench_c \
        nice .venv/bin/python benchmarks/composer.py [--observations 100000] [--runs 5] [--period-days 84]

Target (issue 17): a draft in under 1 s at 100,000 observations. The database is emptied first (drop_all/create_all):
give it a database of its own (any SQLAlchemy URL works, ``sqlite:////tmp/x.db`` too). Loaded as ``make demo`` loads
them: Bristol's geography (34 wards, 268 LSOAs, boundaries), the demo partnership, organisations and agreement, and
the demo indicators (IoD2025 and IoD2019 for Bristol, fuel poverty, free school meals, ...); then the observations,
generated with one multi-row insert per batch, spread over ``--days`` days before the session, each with a theme of
an active theme model (20 themes), about one in eight consenting to be quoted. The session's period is the last
``--period-days`` days (the default twelve weeks; ``--period-days 365`` puts every observation in one of the two
periods compared).

A draft is ``convening.operations.compose_briefing`` on a session without a briefing, committed; a re-draft the same
on the session's existing briefing. Prints each run, the median and maximum, the SQL statements one draft issues, the
size of the facts stored, and the load average (the machine is shared). Exits 1 if the median draft misses 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench  # noqa: E402 - the scripts' shared helpers, beside them

TARGET_S = 1.0
THEMES = 20
BATCH = 10_000


def load(n_observations: int, days: int, held_on: date) -> None:
    """Empty the database, load the demo's geography, partnership and indicators, then the observations and themes."""
    from sqlalchemy import insert, select

    from indicators import demo as indicators_demo
    from nlp.themes.models import Theme, ThemeAssignment, ThemeModel
    from submissions.models import Category, Observation, ObservationKind, ObservationStatus, SharingLevel
    from submissions.operations import ensure_default_categories
    from webapp import demo
    from webapp.extensions import db
    from webapp.models import Area, AreaLevel, Partnership

    db.drop_all()
    db.create_all()
    t = time.perf_counter()
    demo.load()
    db.session.commit()
    for _line in indicators_demo.load():
        pass
    db.session.commit()
    ensure_default_categories()
    db.session.commit()
    print(f"demo geography, partnership and indicators loaded in {time.perf_counter() - t:.1f} s")

    partnership = db.session.scalar(select(Partnership).where(Partnership.slug == "bristol"))
    orgs = [o.id for o in partnership.members]
    wards = list(db.session.scalars(select(Area.id).where(Area.level == AreaLevel.WARD, Area.current.is_(True))))
    lsoas = list(db.session.scalars(select(Area.id).where(Area.parent_id.in_(wards), Area.current.is_(True))))
    places = [*lsoas, *wards, None]  # None: the partnership's whole area
    categories = list(db.session.scalars(select(Category.id)))
    levels = [SharingLevel.PARTNERSHIP, SharingLevel.FUNDERS_AGGREGATE, SharingLevel.PUBLIC_AGGREGATE]

    model = ThemeModel(
        partnership_id=partnership.id, version=1, embedding_model="benchmark", corpus_size=n_observations,
        theme_count=THEMES, path="benchmark", active=True,
    )  # fmt: skip
    db.session.add(model)
    db.session.flush()
    themes = [
        Theme(partnership_id=partnership.id, auto_label=f"Benchmark theme {i:02d}", first_model_id=model.id,
              last_model_id=model.id)
        for i in range(THEMES)
    ]  # fmt: skip
    db.session.add_all(themes)
    db.session.flush()
    theme_ids = [t.id for t in themes]
    weights = [1 / (i + 1) for i in range(THEMES)]  # a few big themes and a long tail, as fits give

    rng = random.Random(17)  # noqa: S311 - benchmark data, not security
    t = time.perf_counter()
    first_id = 1
    for start in range(0, n_observations, BATCH):
        rows = []
        for i in range(start, min(start + BATCH, n_observations)):
            consent = rng.random() < 0.12
            level = rng.choice(levels)
            rows.append(
                {
                    "id": first_id + i,
                    "organisation_id": rng.choice(orgs),
                    "partnership_id": partnership.id,
                    "kind": ObservationKind.NEED if rng.random() < 0.7 else ObservationKind.ASSET,
                    "category_id": rng.choice(categories),
                    "text": f"Benchmark observation {i}",
                    "redacted_text": f"Benchmark observation {i}, personal details removed",
                    "area_id": rng.choice(places),
                    "period_start": held_on - timedelta(days=rng.randrange(days)),
                    "people_affected": rng.randrange(1, 200),
                    "status": ObservationStatus.SUBMITTED,
                    "sharing_level": level,
                    "consent_to_quote": consent,
                    "consent_to_quote_funders": consent
                    and level is not SharingLevel.PARTNERSHIP
                    and rng.random() < 0.5,
                    "record_key": rng.randrange(256),
                }
            )
        db.session.execute(insert(Observation), rows)
        db.session.execute(
            insert(ThemeAssignment),
            [
                {"observation_id": r["id"], "model_id": model.id, "probability": 0.5,
                 "theme_id": rng.choices(theme_ids, weights)[0] if rng.random() > 0.05 else None,
                 "is_outlier": False}
                for r in rows
            ],
        )  # fmt: skip
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        for table in ("observations", "theme_assignments"):
            sql = f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}"  # noqa: S608 - fixed names
            db.session.execute(db.text(sql))
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(db.text("ANALYZE"))
    print(f"{n_observations:,} observations with themes generated in {time.perf_counter() - t:.1f} s")


class QueryCounter:
    def __init__(self, engine):
        from sqlalchemy import event

        self.n = 0
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *_args, **_kw):
        self.n += 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--observations", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=730, help="Observations are spread over this many days.")
    parser.add_argument("--period-days", type=int, default=84, help="The session's period (the last N days).")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--reuse", action="store_true", help="Keep what an earlier run loaded; time the drafts only.")
    parser.add_argument("--profile", help="Write a cProfile of one draft to this file.")
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL")
    if not url:
        sys.exit("Set BENCH_DATABASE_URL to an empty database of the benchmark's own (it is emptied).")

    from sqlalchemy import func, select

    from convening import operations as convening_ops
    from convening.models import Session
    from submissions.models import Observation
    from webapp.extensions import db
    from webapp.models import Partnership, User

    app = _bench.page_app(url)
    held_on = date(2026, 12, 1)
    with app.app_context():
        if not args.reuse:
            load(args.observations, args.days, held_on)
        partnership = db.session.scalar(select(Partnership).where(Partnership.slug == "bristol"))
        convenor = partnership.convenors[0]
        total = db.session.scalar(
            select(func.count(Observation.id)).where(Observation.partnership_id == partnership.id)
        )
        start = held_on - timedelta(days=args.period_days - 1)
        in_period = db.session.scalar(
            select(func.count(Observation.id)).where(
                Observation.partnership_id == partnership.id,
                Observation.period_start >= start - timedelta(days=args.period_days),
                Observation.period_start <= held_on,
            )
        )
        print(
            f"{db.engine.dialect.name}: {total:,} observations in the partnership; {in_period:,} in the two "
            f"{args.period_days}-day periods a briefing compares"
        )
        queries = QueryCounter(db.engine)

        partnership_id, convenor_id = partnership.id, convenor.id

        def session_for(run: int) -> int:
            session = convening_ops.create_session(
                db.session.get(Partnership, partnership_id),
                f"Benchmark session {run}",
                held_on,
                db.session.get(User, convenor_id),
                period_start=start,
                period_end=held_on,
            )
            db.session.commit()
            return session.id

        def draft(session_id: int):
            # A request starts with an empty session: nothing cached from the previous run.
            db.session.expunge_all()
            briefing = convening_ops.compose_briefing(
                db.session.get(Session, session_id), db.session.get(User, convenor_id)
            )
            db.session.commit()
            return briefing

        # Warm up: the first draft compiles SQL and loads the perturbation table.
        draft(session_for(0))

        drafts, redrafts, counts, cpu = [], [], [], []
        facts_size = 0
        for run in range(1, args.runs + 1):
            session_id = session_for(run)
            before, t, c = queries.n, time.perf_counter(), time.process_time()
            briefing = draft(session_id)
            drafts.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
            counts.append(queries.n - before)
            facts_size = len(json.dumps(briefing.facts))
            t = time.perf_counter()
            draft(session_id)
            redrafts.append(time.perf_counter() - t)
            print(f"run {run}: draft {drafts[-1]:.3f} s ({cpu[-1]:.3f} s CPU here, {counts[-1]} queries), "
                  f"re-draft {redrafts[-1]:.3f} s")  # fmt: skip
        if args.profile:
            import cProfile

            session_id = session_for(args.runs + 1)
            cProfile.runctx("draft(session_id)", globals(), {"draft": draft, "session_id": session_id}, args.profile)
            print(f"profile of one draft written to {args.profile}")

    load_average = os.getloadavg()
    print(f"load average while timing: {load_average[0]:.2f} {load_average[1]:.2f} {load_average[2]:.2f} "
          "(2 cores, shared)")  # fmt: skip
    print(f"facts stored with a briefing: {facts_size / 1e6:.2f} MB of JSON")
    print(f"draft: median {statistics.median(drafts):.3f} s, max {max(drafts):.3f} s, "
          f"{max(counts)} SQL statements (target < {TARGET_S:.0f} s)")  # fmt: skip
    print(f"  CPU of this process per draft (wall time also waits for a core and for PostgreSQL): median "
          f"{statistics.median(cpu):.3f} s")  # fmt: skip
    print(f"re-draft: median {statistics.median(redrafts):.3f} s, max {max(redrafts):.3f} s")
    return 0 if statistics.median(drafts) < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
