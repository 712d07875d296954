"""Demo grants: two small INVENTED 360Giving files (demo_data/ATTRIBUTION.md), one in each layout, imported for
the demo partnership through the same importer as the Grants page. Idempotent: a file already imported is left."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from indicators.grants.importer import import_grants
from indicators.grants.models import GrantFile
from webapp.extensions import db
from webapp.models import Partnership

DATA = Path(__file__).resolve().parent / "demo_data"
FILES = ("avon_community_fund_invented_grants.csv", "severnside_trust_invented_grants.json")


def load() -> list[str]:
    partnership = db.session.scalar(select(Partnership).where(Partnership.slug == "bristol"))
    if partnership is None:
        return []
    lines = []
    for name in FILES:
        done = select(GrantFile.id).where(GrantFile.partnership_id == partnership.id, GrantFile.filename == name)
        if db.session.scalar(done) is not None:
            continue
        report = import_grants((DATA / name).read_bytes(), name, partnership, None)
        lines.append(f"Grants: {report.grants} invented grants from {name} (360Giving {report.layout.upper()}).")
    return lines
