"""From saved to themed in the embedded default: how long until a new observation has its theme.

    .venv/bin/python benchmarks/assign_latency.py [--observations 6]

Target (issue 4): a single new observation is assigned to a theme within 10 s of being saved, in the embedded
default (SQLite, the SQLite task queue, the worker `commintel serve` starts). This runs exactly that: the demo
database (built by `commintel demo`, or copied from the browser tests' cache when the sources are unchanged), served by
`commintel serve` on a free port; observations are posted through the JSON API one at a time, and the database is
read every 50 ms until the observation has been redacted and has a row under the active theme model.

The first observation is timed apart: the worker loads spaCy and MiniLM for it (a cost paid once per worker start).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser import live_app  # noqa: E402 - after the path set-up
from tests.browser.screenshots import DEMO_CACHE  # noqa: E402

TARGET_S = 10.0
NEW_KEY_SCRIPT = """  # noqa: S105 - a script that makes an API token, not a secret
from sqlalchemy import select
from submissions.operations import create_api_token
from webapp import create_app
from webapp.extensions import db
from webapp.models import User
app = create_app()
with app.app_context():
    admin = db.session.scalar(select(User).where(User.email == %r))
    _, raw = create_api_token(admin.memberships[0].organisation, "latency benchmark", admin)
    db.session.commit()
    print(raw)
"""
TEXTS = [
    "More families than last month are asking the food bank for help before payday; the shelves run empty by Thursday.",
    "Older residents on the estate say the bus cuts mean they cannot get to the GP surgery or the shops any more.",
    "Damp and black mould in the flats on the estate again this winter; parents worry about their children's chests.",
    "The Saturday community meal now feeds sixty people and volunteers from the mosque and church cook together.",
    "Young people say there is nowhere to go in the evenings since the youth club closed, and they feel unsafe.",
    "People waiting weeks for a mental health appointment are turning up at our drop-in in crisis instead.",
]


def post(base_url: str, token: str, text: str) -> int:
    body = {
        "kind": "need",
        "category": "food",
        "text": text,
        "area": "E05010885",  # Ashley
        "period": time.strftime("%Y-%m"),
        "source": "frontline_contact",
        "confidence": "medium",
        "trend": "worse",
        "sharing_level": "partnership",
        "consent_to_quote": False,
    }
    request = urllib.request.Request(  # noqa: S310 - a local URL
        f"{base_url}/api/v1/observations",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - a local URL
        assert response.status == 201, response.status
        return json.loads(response.read())["id"]


def themed(database: Path, observation_id: int) -> bool:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as con:
        row = con.execute(
            "SELECT 1 FROM theme_assignments a JOIN theme_models m ON m.id = a.model_id "
            "JOIN observations o ON o.id = a.observation_id "
            "WHERE a.observation_id = ? AND m.active AND o.redacted_text IS NOT NULL",
            (observation_id,),
        ).fetchone()
    con.close()
    return row is not None


def wait_until_themed(database: Path, observation_id: int, started: float, timeout: float = 180.0) -> float:
    while time.perf_counter() - started < timeout:
        if themed(database, observation_id):
            return time.perf_counter() - started
        time.sleep(0.05)
    raise SystemExit(f"observation {observation_id} had no theme after {timeout:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--observations", type=int, default=6, help="timed after the first (default 6)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="commintel-latency-") as tmp:
        t = time.perf_counter()
        live = live_app.serve(live_app.prepare(Path(tmp), live_app.free_port(), DEMO_CACHE))
        print(f"demo served in {time.perf_counter() - t:.0f} s ({'from the cache' if live.from_cache else 'built'})")
        try:
            token = live_app.subprocess.run(  # noqa: S603 - fixed argument list, no shell
                [sys.executable, "-c", NEW_KEY_SCRIPT % live_app.DEMO_LOGINS["org_admin"]],
                cwd=ROOT, env=live.env, capture_output=True, text=True, timeout=120, check=True,
            ).stdout.strip().splitlines()[-1]  # fmt: skip
            database = live.instance_dir / "commintel.db"
            started = time.perf_counter()
            first = wait_until_themed(database, post(live.base_url, token, TEXTS[0]), started)
            print(f"first observation (the worker loads spaCy and MiniLM): {first:.2f} s")
            times = []
            for i in range(args.observations):
                started = time.perf_counter()
                observation_id = post(live.base_url, token, f"{TEXTS[i % len(TEXTS)]} ({i})")
                times.append(wait_until_themed(database, observation_id, started))
            print(
                f"next {len(times)}: saved to themed median {statistics.median(times):.2f} s, max {max(times):.2f} s "
                f"(target < {TARGET_S:.0f} s): {'PASS' if max(times) < TARGET_S else 'MISS'}"
            )
        finally:
            live.stop()


if __name__ == "__main__":
    main()
