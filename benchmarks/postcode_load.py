"""How long `commintel geography load-postcodes` takes on a national-size ONS Postcode Directory, and how fast the
area field then looks a postcode up.

Writes a synthetic file in the ONSPD layout (the 52 columns of tests/data/geography/onspd_layout_sample.csv) with
``--rows`` rows, ``--bristol-share`` of them in Bristol's 268 LSOAs (2021) and the rest in LSOA codes that are not
loaded, as a national file would be for a Bristol deployment; loads Bristol's geography into a fresh SQLite database
(or ``BENCH_DATABASE_URL``, which it empties); then times ``load_postcodes`` (seconds, rows a second, peak memory of
the process) and ``--lookups`` area validations by postcode. Prints the load average before and after.

    .venv/bin/python benchmarks/postcode_load.py [--rows 2700000] [--bristol-share 0.01] [--lookups 2000]
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SAMPLE = ROOT / "tests" / "data" / "geography" / "onspd_layout_sample.csv"
LETTERS = "ABDEFGHJLNPQRSTUWXYZ"


def write_directory(path: Path, rows: int, share: float, bristol_lsoas: list[str], seed: int = 7) -> int:
    rng = random.Random(seed)  # noqa: S311 - synthetic test data, not security
    with SAMPLE.open(newline="") as fh:
        header = next(csv.reader(fh))
    pcds_at, pcd_at, lsoa_at = header.index("pcds"), header.index("pcd"), header.index("lsoa21")
    inside = 0
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        template = [""] * len(header)
        for i in range(rows):
            # Unique postcodes: an outward code from the row number, an inward code from it too.
            outward = f"{LETTERS[i % 20]}{LETTERS[(i // 20) % 20]}{(i // 400) % 100}"
            inward = f"{(i // 40000) % 10}{LETTERS[(i // 400000) % 20]}{LETTERS[rng.randrange(20)]}"
            row = list(template)
            row[pcds_at] = f"{outward} {inward}"
            row[pcd_at] = f"{outward:<4}{inward}"[:7] if len(outward) < 4 else outward + inward
            if rng.random() < share:
                row[lsoa_at] = rng.choice(bristol_lsoas)
                inside += 1
            else:
                row[lsoa_at] = f"E01{rng.randrange(10**5, 10**6)}"  # elsewhere in England (rarely Bristol)
            writer.writerow(row)
    return inside


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_700_000)
    parser.add_argument("--bristol-share", type=float, default=0.01)
    parser.add_argument("--lookups", type=int, default=2000)
    args = parser.parse_args()

    from sqlalchemy import select

    from submissions import operations as submission_ops
    from submissions.validation import Context, validate
    from tests.conftest import app_config
    from webapp import create_app, geography
    from webapp import operations as webapp_ops
    from webapp.demo import BRISTOL, DATA, LOOKUP_2021
    from webapp.extensions import db
    from webapp.models import Area, AreaLevel, Postcode

    print(f"load average at the start: {os.getloadavg()}")
    work = Path(tempfile.mkdtemp(prefix="commintel-postcodes-"))
    url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{work}/bench.db"
    app = create_app(app_config(url, work))
    with app.app_context():
        db.drop_all()
        db.create_all()
        geography.load_lookup(DATA / LOOKUP_2021, BRISTOL)
        submission_ops.ensure_default_categories()
        org = webapp_ops.create_organisation("Bench Org", "charity")
        bristol = db.session.scalar(select(Area).where(Area.code == BRISTOL))
        webapp_ops.create_partnership("Bench Partnership", "bench", areas=[bristol], members=[org])
        db.session.commit()
        lsoas = list(db.session.scalars(select(Area.code).where(Area.level == AreaLevel.LSOA)))

        directory = work / "onspd.csv"
        started = time.perf_counter()
        inside = write_directory(directory, args.rows, args.bristol_share, lsoas)
        size_mb = directory.stat().st_size / 1e6
        print(f"wrote {args.rows:,} rows ({size_mb:,.0f} MB, {inside:,} in Bristol) in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip

        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.perf_counter()
        report = geography.load_postcodes(directory)
        db.session.commit()
        seconds = time.perf_counter() - started
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"load_postcodes: {seconds:.1f} s, {args.rows / seconds:,.0f} rows/s; {report.summary()}")
        print(f"peak resident memory: {rss_after:,.0f} MB (before the load: {rss_before:,.0f} MB)")

        stored = list(db.session.scalars(select(Postcode.postcode).limit(args.lookups)))
        context = Context(organisation=org)
        base = {"kind": "need", "category": "food", "text": "A benchmark observation about food parcels."}
        started = time.perf_counter()
        for postcode in stored:
            validate({**base, "area": postcode.lower().replace(" ", "")}, context)
        per = (time.perf_counter() - started) / max(len(stored), 1) * 1000
        print(f"validate() with a postcode as the area: {per:.2f} ms each over {len(stored):,} postcodes")
        db.session.remove()
    directory.unlink()
    print(f"load average at the end: {os.getloadavg()}")
    print(f"command: {' '.join(sys.argv)}; database: {'PostgreSQL' if 'postgresql' in url else 'SQLite'}")


if __name__ == "__main__":
    main()
