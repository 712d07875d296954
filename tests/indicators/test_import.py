"""The import pipeline on slices of the real files, and on the bad inputs named in the issue."""

from __future__ import annotations

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from indicators import operations as indicator_ops
from indicators.models import Indicator, IndicatorDataset, IndicatorValue, PeriodKind, ValueKind
from indicators.readers import Options
from tests.indicators.conftest import BRISTOL, DATA, TEST_RELEASE
from webapp.extensions import db
from webapp.models import Area
from webapp.operations import OperationError


def _values(indicator_name: str) -> dict[tuple[str, str], IndicatorValue]:
    rows = db.session.execute(
        select(Area.code, IndicatorValue)
        .join(IndicatorValue, IndicatorValue.area_id == Area.id)
        .join(Indicator, Indicator.id == IndicatorValue.indicator_id)
        .where(Indicator.name == indicator_name)
    ).all()
    return {(code, v.period_key): v for code, v in rows}


def test_iod_file2_is_recognised_and_unknown_codes_reported(bristol, import_file):
    report = import_file("iod2019_file2_slice.csv")
    assert report.format == "iod"
    assert report.imported == 8 * 8  # Central ward's eight LSOAs x IMD and seven domains
    assert set(report.unknown_codes) == {"E01000001", "E01000002"}  # City of London: not in Bristol's geography
    assert any("unknown area code: 'E01000001'" in reason for _, _, reason in report.skipped)
    dataset = report.dataset
    assert dataset.publisher.startswith("Ministry of Housing")
    assert dataset.licence.startswith("Open Government")
    imd = _values("Index of Multiple Deprivation (IMD)")
    first = imd[("E01033367", "2019")]
    assert (first.rank, first.decile, first.value, first.period_kind) == (1223, 1, None, PeriodKind.YEAR)
    indicator = db.session.scalar(select(Indicator).where(Indicator.name == "Crime domain"))
    assert indicator.value_kind is ValueKind.RANK
    assert indicator.level.value == "lsoa"


def test_reimporting_a_release_replaces_its_values(bristol, import_file, tmp_path):
    import_file("iod2019_file2_slice.csv")
    changed = tmp_path / "iod.csv"
    text = (DATA / "iod2019_file2_slice.csv").read_text(encoding="utf-8-sig")
    changed.write_text(
        text.replace(
            'E01033367,Bristol 025F,E06000023,"Bristol, City of",1223,',
            'E01033367,Bristol 025F,E06000023,"Bristol, City of",1000,',
        )
    )
    report = import_file(changed)
    assert report.replaced == 64
    assert report.imported == 64
    assert db.session.scalar(select(func.count()).select_from(IndicatorDataset)) == 1
    assert db.session.scalar(select(func.count()).select_from(IndicatorValue)) == 64
    assert _values("Index of Multiple Deprivation (IMD)")[("E01033367", "2019")].rank == 1000


def test_a_failed_import_leaves_the_previous_values_intact(bristol, import_file, tmp_path):
    first = tmp_path / "v1.csv"
    first.write_text("area_code,period,indicator,value\nE06000023,2019,Test rate,10\nE06000023,2020,Test rate,11\n")
    import_file(first, dataset_title="Test release")
    broken = tmp_path / "v2.csv"  # duplicate rows that disagree: the whole file is refused
    broken.write_text("area_code,period,indicator,value\nE06000023,2019,Test rate,12\nE06000023,2019,Test rate,13\n")
    with pytest.raises(OperationError, match="rows 2 and 3 give different values"):
        indicator_ops.import_file(broken, Options(dataset_title="Test release"))
    db.session.rollback()
    values = _values("Test rate")
    assert {k: v.value for k, v in values.items()} == {(BRISTOL, "2019"): 10.0, (BRISTOL, "2020"): 11.0}


def test_identical_duplicate_rows_are_skipped_and_reported(bristol, import_file, tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("area_code,period,indicator,value\nE06000023,2019,Rate,10\nE06000023,2019,Rate,10\n")
    report = import_file(path)
    assert report.imported == 1
    assert (3, "value", "duplicate: same as row 2") in report.skipped


def test_wide_fuel_poverty_table(bristol, import_file):
    report = import_file("beis_fuel_poverty_slice.csv", indicator="Households in fuel poverty", unit="%")
    assert report.format == "wide"
    assert report.imported == 10
    assert set(report.unknown_codes) == {"E07000066", "E07000084"}
    assert report.ignored_columns == ["LAName", "English region"]
    values = _values("Households in fuel poverty")
    assert values[(BRISTOL, "2010")].value == 15.0
    assert values[(BRISTOL, "2019")].value == 13.76


def test_wide_table_with_titles_names_markers_and_notes(bristol, import_file, tmp_path):
    path = tmp_path / "dwp.csv"
    path.write_text(
        "Table 3: Households on Universal Credit\n"
        "Source: DWP Stat-Xplore\n"
        "\n"
        "Area,Notes,2019/20,2020/21,2021/22\n"
        '"Bristol, City of",revised,"1,200",c,1350r\n'
        "Ashley,,..,x,95\n"
        "Atlantis,,5,6,7\n"
        "Lawrence Hill,,*,-,lots\n"
        "\n"
        "Footnote: c = suppressed to protect confidentiality\n"
    )
    report = import_file(path)
    assert report.format == "wide"
    assert report.indicators == ["Table 3: Households on Universal Credit"]
    assert report.unmatched_names == {"Atlantis": 1}
    assert any(
        r == (8, "2021/22", "text in a numeric cell: 'lots' is not a number or a suppression marker")
        for r in report.skipped
    )
    values = _values("Table 3: Households on Universal Credit")
    assert values[(BRISTOL, "FY2019/20")].value == 1200.0
    assert values[(BRISTOL, "FY2020/21")].suppressed
    assert values[(BRISTOL, "FY2020/21")].note == "c"
    assert values[(BRISTOL, "FY2021/22")].value == 1350.0
    assert values[(BRISTOL, "FY2021/22")].note == "r"
    assert values[("E05010885", "FY2021/22")].value == 95.0  # Ashley ward, matched by name
    assert report.suppressed == 5
    assert report.ignored_columns == ["Notes"]
    assert report.ignored_lines >= 1


def test_wide_columns_in_other_spellings(bristol, import_file, tmp_path):
    path = tmp_path / "monthly.csv"
    path.write_text("code,August 2015,Sep-15,2015-10\nE06000023,1,2,3\n")
    report = import_file(path)
    assert report.periods == ["2015-08", "2015-09", "2015-10"]
    path.write_text("code,201819,201920\nE06000023,1,2\n")
    assert import_file(path, year_type=PeriodKind.ACADEMIC_YEAR).periods == ["AY2018/19", "AY2019/20"]


def test_mixed_periods_are_refused(bristol, tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text("code,2018,2019/20\nE06000023,1,2\n")
    with pytest.raises(OperationError, match="mixed periods"):
        indicator_ops.import_file(path)


def test_dfe_free_school_meals_through_the_tidy_reader(bristol, import_file):
    report = import_file(
        "dfe_fsm_slice.csv",
        format="tidy",
        area_column="new_la_code",
        period_column="time_period",
        value_column="fsm_eligible_percent",
        indicator="Pupils eligible for free school meals",
        unit="%",
        year_type=PeriodKind.ACADEMIC_YEAR,
        filters=[("geographic_level", "Local authority"), ("phase", "Total")],
    )
    assert report.imported == 6
    assert report.ignored_lines == 12  # national, regional and other phases filtered out
    assert report.unknown_codes == {}  # Bath's rows were only other phases
    values = _values("Pupils eligible for free school meals")
    assert round(values[(BRISTOL, "AY2020/21")].value, 2) == 24.63
    assert values[(BRISTOL, "AY2015/16")].period_start.isoformat() == "2015-09-01"


def test_fixmystreet_monthly_counts_through_the_tidy_reader(bristol, import_file):
    report = import_file(
        "fixmystreet_slice.csv",
        area_column="lsoa",
        period_column="month",
        value_column="reports",
        indicator="FixMyStreet reports",
        unit="count",
    )
    assert report.format == "tidy"
    assert report.imported == 24
    indicator = db.session.scalar(select(Indicator).where(Indicator.name == "FixMyStreet reports"))
    assert indicator.value_kind is ValueKind.COUNT
    assert _values("FixMyStreet reports")[("E01014540", "2019-01")].value == 17.0


def test_tidy_long_with_names_and_units(bristol, import_file, tmp_path):
    path = tmp_path / "tidy.csv"
    path.write_text(
        "area_name,period,indicator,value,unit\n"
        "Ashley,2019 Q1,Claimant rate,4.5,%\n"
        "Nowhere,2019 Q1,Claimant rate,4.5,%\n"
        "Ashley,2019 Q2,Claimant rate,abc,%\n"
    )
    report = import_file(path)
    assert report.imported == 1
    assert report.unmatched_names == {"Nowhere": 1}
    assert any(row == 4 and "text in a numeric cell" in reason for row, _, reason in report.skipped)
    assert db.session.scalar(select(Indicator.unit).where(Indicator.name == "Claimant rate")) == "%"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        ("\n\n", "has no data"),
        ("foo,bar\n1,2\n", "Formats: iod"),
    ],
)
def test_unreadable_files_say_why(bristol, tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(OperationError, match=message) as excinfo:
        indicator_ops.import_file(path)
    if "Formats" in message:
        assert "Columns found: 'foo', 'bar'" in excinfo.value.message


def test_nothing_importable_is_a_failure_with_the_report(bristol, tmp_path):
    path = tmp_path / "elsewhere.csv"
    path.write_text("area_code,period,indicator,value\nE09000001,2019,Rate,1\n")
    with pytest.raises(indicator_ops.ImportFailed) as excinfo:
        indicator_ops.import_file(path)
    assert excinfo.value.report.unknown_codes == {"E09000001": 1}


def test_xlsx_with_several_sheets_asks_which(bristol, tmp_path):
    workbook = Workbook()
    notes = workbook.active
    notes.title = "Notes"
    notes.append(["About this table"])
    notes.append(["Figures are percentages"])
    data = workbook.create_sheet("Data")
    data.append(["Fuel poverty by local authority"])
    data.append(["LA code", "2018", "2019"])
    data.append(["E06000023", 9.8, 13.76])
    path = tmp_path / "book.xlsx"
    workbook.save(path)
    with pytest.raises(OperationError, match="several sheets with data: Notes, Data. Choose one with --sheet"):
        indicator_ops.import_file(path)
    report = indicator_ops.import_file(path, Options(sheet="Data", release_date=TEST_RELEASE))
    assert report.imported == 2
    assert report.indicators == ["Fuel poverty by local authority"]
    with pytest.raises(OperationError, match="no sheet 'Nope'"):
        indicator_ops.import_file(path, Options(sheet="Nope"))


def test_cli_prints_the_report_and_fails_when_nothing_imported(app, bristol, tmp_path):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "indicators",
            "import",
            str(DATA / "beis_fuel_poverty_slice.csv"),
            "--indicator",
            "Fuel poverty",
            "--unit",
            "%",
            "--polarity",
            "worse",
            "--release-date",
            "2021-11-15",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Values imported: 10" in result.output
    assert "Unknown area codes (2" in result.output
    nothing = tmp_path / "nothing.csv"
    nothing.write_text("area_code,period,indicator,value\nE09000001,2019,Rate,1\n")
    failed = runner.invoke(args=["indicators", "import", str(nothing)])
    assert failed.exit_code != 0
    assert "Nothing could be imported" in failed.output
    assert "E09000001" in failed.output
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("x,y\n1,2\n")
    failed = runner.invoke(args=["indicators", "import", str(unknown)])
    assert failed.exit_code != 0
    assert "Columns found: 'x', 'y'" in failed.output
    assert "Traceback" not in failed.output
