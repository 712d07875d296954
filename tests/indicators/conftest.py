"""Fixtures for indicators: Bristol's geography (from the demo lookup and boundaries) and the real-file slices."""

from __future__ import annotations

from pathlib import Path

import pytest

from indicators import operations
from indicators.readers import Options
from webapp import geography
from webapp.extensions import db
from webapp.models import AreaLevel

ROOT = Path(__file__).resolve().parent.parent.parent
DATA = ROOT / "tests" / "data" / "indicators"
DEMO = ROOT / "webapp" / "demo_data"
BRISTOL = "E06000023"
CENTRAL_WARD = "E05010892"  # its LSOAs include E01014540 and E01033342


@pytest.fixture
def bristol(db_session):
    """Bristol's 263 LSOAs, 34 wards and the local authority, with ward and LSOA boundaries."""
    geography.load_lookup(DEMO / "bristol_lsoa11_ward19_lad19_lookup.csv", BRISTOL)
    geography.load_boundaries(DEMO / "bristol_wards.geojson", AreaLevel.WARD)
    geography.load_boundaries(DEMO / "bristol_lsoa11.geojson", AreaLevel.LSOA)
    db.session.commit()


@pytest.fixture
def import_file(db_session):
    """Import a file (a name under tests/data/indicators or a path) and commit, as the CLI does."""

    def run(path, **options):
        path = path if isinstance(path, Path) else DATA / path
        report = operations.import_file(path, Options(**options))
        db.session.commit()
        return report

    return run
