"""Postcodes: the ONS postcode directory loader (ONSPD/NSPL layout; good and bad files) and the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from webapp import geography
from webapp.demo import BRISTOL, DATA, LOOKUP_2021
from webapp.extensions import db
from webapp.models import Postcode

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "geography"
ONSPD = SAMPLES / "onspd_layout_sample.csv"


def _count() -> int:
    return db.session.scalar(select(func.count()).select_from(Postcode))


@pytest.fixture
def geography_loaded(db_session):
    geography.load_lookup(DATA / LOOKUP_2021, BRISTOL)
    geography.load_lookup(SAMPLES / "lsoa21_ward24_lad24_sample.csv")  # Hartlepool and others, outside Bristol


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("BS5 0HE", "BS5 0HE"), ("bs50he", "BS5 0HE"), (" BS5  0HE ", "BS5 0HE"), ("TS247PW", "TS24 7PW"),
     ("M1  1AE", "M1 1AE"), ("EC1A 1BB", "EC1A 1BB"), ("Barton Hill", None), ("E05010907", None), ("BS5", None)],
)  # fmt: skip
def test_normalise_postcode(raw, expected):
    assert geography.normalise_postcode(raw) == expected


def test_the_onspd_layout_loads_postcodes_of_loaded_lsoas(geography_loaded):
    assert not geography.postcodes_loaded()
    report = geography.load_postcodes(ONSPD)
    assert (report.rows, report.created, report.outside, report.no_lsoa) == (7, 5, 1, 1)
    assert geography.postcodes_loaded()
    found = geography.find_postcode("bs5 0he")
    assert found.lsoa.code == "E01033353"
    assert found.lsoa.parent.name == "Lawrence Hill"
    assert geography.find_postcode("M1 1AE") is None, "its LSOA is not loaded: skipped"
    again = geography.load_postcodes(ONSPD)
    assert (again.created, again.updated) == (0, 0)
    assert _count() == 5


def test_a_postcode_that_moved_lsoa_is_updated(geography_loaded, tmp_path):
    geography.load_postcodes(ONSPD)
    moved = tmp_path / "nspl.csv"
    moved.write_text("pcd,pcds,lsoa21cd\nBS5 0HE,BS5 0HE,E01014580\n")  # NSPL-style names; now Filwood's LSOA
    report = geography.load_postcodes(moved)
    assert (report.created, report.updated) == (0, 1)
    assert geography.find_postcode("BS5 0HE").lsoa.parent.name == "Filwood"


def test_a_file_without_the_columns_is_refused(geography_loaded, tmp_path):
    path = tmp_path / "pc.csv"
    path.write_text("postcode_sector,ward\nBS5 0,E05010907\n")
    with pytest.raises(geography.OperationError, match=r"lacks the postcode \(pcds or pcd\) and LSOA 2021"):
        geography.load_postcodes(path)
    path.write_text("pcds,lsoa11\nBS5 0HE,E01014653\n")  # a 2011 directory: the LSOA 2021 column is missing
    with pytest.raises(geography.OperationError, match=r"lacks the LSOA 2021 \(lsoa21\) column.*found: pcds, lsoa11"):
        geography.load_postcodes(path)
    assert _count() == 0


def test_every_bad_row_is_reported_by_number_and_nothing_is_stored(geography_loaded, tmp_path):
    path = tmp_path / "pc.csv"
    path.write_text(
        "pcd,pcds,lsoa21\n"
        "BS5 0HE,BS5 0HE,E01033353\n"  # row 2: good
        "BS5 9QA,not a pc,E01014653\n"  # row 3: not a postcode
        "BS2 8XJ,BS2 8XJ,Bristol 058B\n"  # row 4: a name, not a code
        "BS5 0HE,BS5 0HE,E01014580\n"  # row 5: the same postcode in another LSOA
        "BS1 1AA\n"  # row 6: cut short
    )
    with pytest.raises(geography.BadRows) as failed:
        geography.load_postcodes(path)
    assert failed.value.problems == [
        "Row 3, column pcds: 'not a pc' is not a postcode.",
        "Row 4, column lsoa21: 'BRISTOL 058B' is not an ONS LSOA code.",
        "Row 5, column pcds: BS5 0HE is already in another LSOA on row 2.",
        "Row 6: only 1 of the header's 3 columns.",
    ]
    assert _count() == 0, "a file with a bad row stores nothing, not even its good rows"


def test_cli_loads_postcodes_or_nothing(app, geography_loaded, tmp_path):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["geography", "load-postcodes", str(ONSPD)])
    assert result.exit_code == 0, result.output
    assert "7 rows; 5 postcodes new" in result.output
    assert "1 in LSOAs not loaded here, skipped" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text("pcds,lsoa21\nBS1 1AA,E01014488\nBS1 1AB,nonsense\n")
    failed = runner.invoke(args=["geography", "load-postcodes", str(bad)])
    assert failed.exit_code != 0
    assert "Row 3, column lsoa21" in failed.output
    assert "Traceback" not in failed.output
    assert geography.find_postcode("BS1 1AA") is None, "nothing half-stored"
