"""The importer never stores a file it has not understood (issue 15): header rows checked against the data, the
half-matched rule, measures of unknown unit or direction, mixed vintages, missing release dates; --dry-run."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from indicators import operations as indicator_ops
from indicators.models import Indicator, IndicatorDataset, IndicatorValue, Polarity
from indicators.readers import Options
from tests.indicators.conftest import DATA, TEST_RELEASE
from webapp.extensions import db
from webapp.models import AuditEvent
from webapp.operations import OperationError

IOD2025_BRISTOL = DATA.parent.parent.parent / "indicators" / "demo_data" / "iod2025_bristol_lsoa21.csv"


def _stored() -> tuple[int, int]:
    return (
        db.session.scalar(select(func.count()).select_from(IndicatorDataset)),
        db.session.scalar(select(func.count()).select_from(IndicatorValue)),
    )


def test_a_header_row_of_data_is_refused_and_nothing_stored(app, bristol):
    """The misread of the issue: a data row taken as the header ("1 indicator" named after an LSOA code, real values
    listed as ignored columns, exit 0). A file whose first row is data is now refused, naming the row."""
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["indicators", "import", str(DATA / "iod2025_header_is_data.csv"), "--dataset-title", "IoD2025",
              "--publisher", "MHCLG", "--licence", "OGL-3.0"]
    )  # fmt: skip
    assert result.exit_code != 0
    assert "Row 1 of iod2025_header_is_data.csv is where the column names should be" in result.output
    assert "'E01014485', '5.0'" in result.output
    assert "nothing was imported" in result.output
    assert "Traceback" not in result.output
    assert _stored() == (0, 0)


def test_data_rows_above_a_period_header_are_refused(bristol, tmp_path):
    """What made the misread possible: a wide table's header searched for the first row with a period-like cell
    (a rank of 2032 read as the year 2032). A full-width row of data above the table is now refused."""
    path = tmp_path / "odd.csv"
    rows = [f"E0101448{i},{i}.0,2032.0,8043.0" for i in range(5)]
    path.write_text("\n".join(rows) + "\nArea,2019,2020,2021\nE06000023,1,2,3\n")
    with pytest.raises(OperationError, match=r"Row 1 of odd.csv is where the column names should be"):
        indicator_ops.import_file(path, Options(release_date=TEST_RELEASE))
    assert _stored() == (0, 0)


def test_repeated_column_names_are_refused(bristol, tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("area_code,period,indicator,value,value\nE06000023,2019,Rate,1,2\n")
    with pytest.raises(OperationError, match="repeats column names \\('value'\\)"):
        indicator_ops.import_file(path, Options(release_date=TEST_RELEASE))


def test_forcing_the_wrong_layout_is_refused(bristol):
    with pytest.raises(OperationError, match="The header has no period columns"):
        indicator_ops.import_file(IOD2025_BRISTOL, Options(format="wide"))
    assert _stored() == (0, 0)


def test_fewer_than_half_the_rows_matched_is_refused(app, bristol, tmp_path):
    path = tmp_path / "names.csv"
    path.write_text(
        "area_name,period,indicator,value\n"
        "Ashley,2023,Rate,1\nAtlantis,2023,Rate,2\nLyonesse,2023,Rate,3\nAvalon,2023,Rate,4\nNarnia,2023,Rate,5\n"
    )
    with pytest.raises(indicator_ops.ImportFailed, match=r"Only 1 of 5 rows of names.csv matched an area \(20%\)"):
        indicator_ops.import_file(path, Options(release_date=TEST_RELEASE))
    assert _stored() == (0, 0)
    result = app.test_cli_runner().invoke(args=["indicators", "import", str(path), "--release-date", "2024-03-01"])
    assert result.exit_code != 0
    assert "Rows matched to an area: 1 of 5 (20%)" in result.output  # what was understood, printed with the refusal
    assert "fewer than half" in result.output
    # Half exactly is enough: it was understood.
    path.write_text("area_name,period,indicator,value\nAshley,2023,Rate,1\nAtlantis,2023,Rate,2\n")
    assert indicator_ops.import_file(path, Options(release_date=TEST_RELEASE)).imported == 1


def test_rows_for_other_places_and_for_england_do_not_count_against_a_file(bristol, tmp_path):
    """A national file in a local install: codes of a kind commintel holds (other LSOAs) and comparators (England,
    regions) are reported, not stored, and not counted; codes of a kind it does not hold (MSOAs) are."""
    path = tmp_path / "national.csv"
    others = "".join(f"E0100{i:04d},2023,Rate,1\n" for i in range(1, 40))
    path.write_text(f"area_code,period,indicator,value\nE92000001,2023,Rate,5\nE01033907,2023,Rate,4\n{others}")
    report = indicator_ops.import_file(path, Options(release_date=TEST_RELEASE))
    assert report.imported == 1
    assert (report.rows["matched"], report.rows["elsewhere"], report.rows["wider"]) == (1, 39, 1)
    msoas = tmp_path / "msoas.csv"
    msoas.write_text(
        "area_code,period,indicator,value\nE01033907,2023,Rate,4\nE02003012,2023,Rate,1\nE02003013,2023,Rate,1\n"
    )
    with pytest.raises(indicator_ops.ImportFailed, match="Only 1 of 3 rows"):
        indicator_ops.import_file(msoas, Options(release_date=TEST_RELEASE, dataset_title="MSOA file"))


def test_dry_run_prints_what_it_understood_and_stores_nothing(app, bristol):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["indicators", "import", str(IOD2025_BRISTOL), "--dry-run"])
    assert result.exit_code == 0, result.output
    for line in (
        "read as iod (English Indices of Deprivation 2025",
        "Header: row 1; areas from column 'lsoa21_code'.",
        "Release: English Indices of Deprivation 2025 — Ministry of Housing, Communities and Local Government; "
        "released 2025-10-30",
        "Index of Multiple Deprivation (IMD) [unit rank; rank; higher is better; geography LSOA 2021]: 268 values",
        "Rows matched to an area: 268 of 268 (100%).",
        "LSOA 2021: 268 areas (259 of them also LSOA 2011)",
        "Periods: 1 (2025).",
        "Values that would be imported: 2,144",
        "Dry run: nothing was stored.",
    ):
        assert line in result.output
    assert _stored() == (0, 0)
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_a_release_needs_its_date(app, bristol, tmp_path):
    path = tmp_path / "rates.csv"
    path.write_text("area_code,period,indicator,value\nE06000023,2023,Rate,1\n")
    with pytest.raises(indicator_ops.ImportFailed, match="does not say when it was released: give the publisher's"):
        indicator_ops.import_file(path, Options(dataset_title="Rates"))
    assert _stored() == (0, 0)
    result = app.test_cli_runner().invoke(
        args=["indicators", "import", str(path), "--release-date", "2021-11-15", "--release-note",
              "date of the copy used"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    dataset = db.session.scalar(select(IndicatorDataset))
    assert dataset.release_label == "15 November 2021 (date of the copy used)"


def test_measures_of_unknown_unit_or_direction_are_asked_for(bristol):
    path = DATA / "measures_wide_sample.csv"
    with pytest.raises(OperationError, match="with --period"):
        indicator_ops.import_file(path, Options(release_date=TEST_RELEASE))
    with pytest.raises(OperationError) as refused:
        indicator_ops.import_file(path, Options(release_date=TEST_RELEASE, period="2024"))
    message = refused.value.message
    assert "Households on Universal Credit (unit and direction)" in message
    assert "Food bank parcels per 1000 households (direction)" in message  # the unit is in its name
    assert '--measure "COLUMN=UNIT,DIRECTION"' in message
    assert _stored() == (0, 0)
    report = indicator_ops.import_file(
        path,
        Options(
            release_date=TEST_RELEASE,
            period="2024",
            measures=[
                ("Households on Universal Credit", "count,worse"),
                ("Food bank parcels per 1000 households", "worse"),
                ("Child poverty %", "worse"),
                ("Median age", "years,neutral"),
            ],
        ),
    )
    assert report.imported == 16
    found = {i.name: (i.unit, i.polarity, i.value_kind.value) for i in db.session.scalars(select(Indicator))}
    assert found == {
        "Households on Universal Credit": ("count", Polarity.HIGHER_IS_WORSE, "count"),
        "Food bank parcels per 1000 households": ("per 1,000", Polarity.HIGHER_IS_WORSE, "rate"),
        "Child poverty %": ("%", Polarity.HIGHER_IS_WORSE, "rate"),
        "Median age": ("years", Polarity.NEUTRAL, "rate"),
    }


def test_rank_decile_and_score_columns_say_their_unit_and_direction(bristol, tmp_path):
    """One row per area, one column per measure: deprivation ranks/deciles (1 = most deprived) are "higher is
    better", deprivation scores "higher is worse", read together as one measure."""
    path = tmp_path / "local_index.csv"
    path.write_text(
        "lsoa21cd,Local deprivation score,Local deprivation rank,Local deprivation decile\n"
        "E01033907,41.5,12,1\nE01033908,12.0,200,8\n"
    )
    report = indicator_ops.import_file(path, Options(release_date=TEST_RELEASE, period="2024"))
    assert report.format == "measures"
    indicator = db.session.scalar(select(Indicator))
    assert (indicator.name, indicator.unit, indicator.polarity, indicator.value_kind.value, indicator.vintage) == (
        "Local deprivation", "rank", Polarity.HIGHER_IS_BETTER, "rank", 2021
    )  # fmt: skip
    value = db.session.scalar(select(IndicatorValue).order_by(IndicatorValue.rank))
    assert (value.value, value.rank, value.decile) == (41.5, 12, 1)


def test_one_indicator_on_two_lsoa_vintages_is_refused(bristol, tmp_path):
    path = tmp_path / "mixed.csv"
    # E01014540 exists only in 2011 (split in 2021); E01033907 only in 2021 (one of its parts).
    path.write_text("area_code,period,indicator,value\nE01014540,2020,Rate,1\nE01033907,2020,Rate,2\n")
    with pytest.raises(indicator_ops.ImportFailed, match=r"different geography vintages \(1 only in LSOA 2011, 1 only"):
        indicator_ops.import_file(path, Options(release_date=TEST_RELEASE))
    assert _stored() == (0, 0)


def test_the_vintage_of_unchanged_codes_comes_from_the_header_or_the_option(bristol, tmp_path):
    path = tmp_path / "unchanged.csv"
    path.write_text("lsoa11cd,period,indicator,value\nE01033342,2020,Rate,1\nE01014485,2020,Rate,2\n")
    indicator_ops.import_file(path, Options(release_date=TEST_RELEASE, area_column="lsoa11cd", dataset_title="A"))
    path.write_text("area_code,period,indicator,value\nE01033342,2020,Other,1\n")
    indicator_ops.import_file(path, Options(release_date=TEST_RELEASE, dataset_title="B", vintage=2011))
    path.write_text("area_code,period,indicator,value\nE01033342,2020,Newest,1\n")
    indicator_ops.import_file(path, Options(release_date=TEST_RELEASE, dataset_title="C"))
    vintages = dict(db.session.execute(select(Indicator.name, Indicator.vintage)).all())
    assert vintages == {"Rate": 2011, "Other": 2011, "Newest": 2021}  # header, option, else the newest
    with pytest.raises(
        indicator_ops.ImportFailed, match="--vintage 2019, but the areas of 'Newest' are LSOA 2011, 2021"
    ):
        indicator_ops.import_file(path, Options(release_date=TEST_RELEASE, dataset_title="D", vintage=2019))
