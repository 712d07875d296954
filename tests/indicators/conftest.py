"""Fixtures for indicators: Bristol's geography (from the demo lookup and boundaries) and the real-file slices."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from indicators import operations as indicator_ops
from indicators.readers import Options
from webapp import demo, geography
from webapp.extensions import db
from webapp.models import AreaLevel

ROOT = Path(__file__).resolve().parent.parent.parent
DATA = ROOT / "tests" / "data" / "indicators"
DEMO = ROOT / "webapp" / "demo_data"
BRISTOL = "E06000023"
TEST_RELEASE = date(2024, 3, 1)
CENTRAL_WARD = "E05010892"  # its LSOAs include E01033342; E01014540 (2011) was split into three in 2021


@pytest.fixture
def bristol(db_session):
    """Bristol as the demo loads it: the local authority, its 34 wards (2019 and 2024: the same codes) and 268
    LSOAs (2021), the 4 LSOAs (2011) split in 2021 kept as superseded, the ONS LSOA 2011 → 2021 bridge, and the
    ward and LSOA (2021) boundaries."""
    demo.load_geography()
    db.session.commit()


@pytest.fixture
def bristol_2011_only(db_session):
    """Bristol's geography as it was before vintages: only the LSOA 2011 → ward 2019 lookup."""
    geography.load_lookup(DEMO / "bristol_lsoa11_ward19_lad19_lookup.csv", BRISTOL)
    geography.load_boundaries(DEMO / "bristol_wards.geojson", AreaLevel.WARD)
    db.session.commit()


@pytest.fixture
def import_file(db_session):
    """Import a file (a name under tests/data/indicators or a path) and commit, as the CLI does."""

    def run(path, **options):
        path = path if isinstance(path, Path) else DATA / path
        # Every release needs its date; files whose headers do not name the release get this one unless the test
        # gives another (test_import.py tests the refusal without one).
        if "release_date" not in options and not path.name.startswith("iod"):
            options["release_date"] = TEST_RELEASE
        report = indicator_ops.import_file(path, Options(**options))
        db.session.commit()
        return report

    return run
