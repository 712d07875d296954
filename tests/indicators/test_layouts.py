"""Readers for the layouts partners download (issue 15): OHID Fingertips, Nomis downloads, Census bulk tables
(Nomis bulk CSVs), DWP Stat-Xplore tables, the gov.uk IoD files. The example files in tests/data/indicators follow
the publishers' column specifications (see tests/data/indicators/README.md)."""

from __future__ import annotations

import csv
from datetime import date

import pytest
from sqlalchemy import select

from indicators import operations as indicator_ops
from indicators.models import Indicator, IndicatorDataset, IndicatorValue, Polarity, ValueKind
from indicators.readers import Options
from tests.indicators.conftest import BRISTOL, CENTRAL_WARD, DATA, TEST_RELEASE
from webapp.extensions import db
from webapp.models import Area
from webapp.operations import OperationError


def _values(name: str) -> dict[tuple[str, str], IndicatorValue]:
    rows = db.session.execute(
        select(Area.code, IndicatorValue)
        .join(IndicatorValue, IndicatorValue.area_id == Area.id)
        .join(Indicator, Indicator.id == IndicatorValue.indicator_id)
        .where(Indicator.name == name)
    ).all()
    return {(code, v.period_key): v for code, v in rows}


def _indicator(name: str) -> Indicator:
    return db.session.scalar(select(Indicator).where(Indicator.name == name))


def test_fingertips_export(bristol, import_file):
    report = import_file("fingertips_export_sample.csv", release_date=date(2024, 5, 7))
    assert report.format == "fingertips"
    active = "Percentage of adults physically active (example values)"
    male = "Percentage of emergency admissions for falls (example values) (Male, 65+ yrs)"
    female = "Percentage of emergency admissions for falls (example values) (Female, 65+ yrs)"
    assert sorted(report.indicators) == sorted([active, male, female])  # sex/age variants apart
    values = _values(active)
    assert sorted(values) == [(BRISTOL, "FY2021/22"), (BRISTOL, "FY2022/23")]
    latest = values[(BRISTOL, "FY2022/23")]
    assert (latest.value, latest.lower, latest.upper) == (71.0, 68.4, 73.5)  # with its 95% confidence interval
    # Direction read from the file's own comparisons with England (Bristol higher and "Better 95%").
    assert _indicator(active).polarity is Polarity.HIGHER_IS_BETTER
    assert _indicator(active).unit == "%"
    # The Female variant has no comparison of its own: the indicator's direction (from the Male rows) is used.
    assert _indicator(female).polarity is _indicator(male).polarity is Polarity.HIGHER_IS_WORSE
    withheld = _values(female)[(BRISTOL, "FY2022/23")]
    assert withheld.suppressed
    assert withheld.note == "Value suppressed for disclosure control due to small count"
    assert report.ignored_lines == 1  # the breakdown by deprivation decile is not an area's value
    assert report.rows["wider"] == 5  # England and the South West: comparators, not stored
    dataset = db.session.scalar(select(IndicatorDataset))
    assert dataset.publisher == "Office for Health Improvement and Disparities (Fingertips)"


def test_fingertips_without_a_direction_asks_for_one(bristol, tmp_path):
    rows = (DATA / "fingertips_export_sample.csv").read_text().splitlines()
    path = tmp_path / "no_comparisons.csv"
    path.write_text("\n".join([rows[0], *(r.replace("Better 95%", "Not compared") for r in rows[1:7])]) + "\n")
    with pytest.raises(indicator_ops.ImportFailed, match=r"cannot tell what these indicators measure: Percentage of"):
        indicator_ops.import_file(path, Options(release_date=TEST_RELEASE))
    report = indicator_ops.import_file(path, Options(release_date=TEST_RELEASE, polarity=Polarity.HIGHER_IS_BETTER))
    assert report.imported == 2


def test_a_forced_fingertips_format_without_its_columns_names_them(bristol, tmp_path):
    path = tmp_path / "not_fingertips.csv"
    path.write_text("Indicator ID,Indicator Name,Time period,Value\n93014,Active adults,2022/23,71.0\n")
    with pytest.raises(OperationError, match=r"Not an OHID Fingertips export: no 'area_code' column") as refused:
        indicator_ops.import_file(path, Options(release_date=TEST_RELEASE, format="fingertips"))
    assert refused.value.field == "format"


def test_nomis_download(bristol, import_file):
    path = DATA / "nomis_claimant_count_sample.csv"
    with pytest.raises(indicator_ops.ImportFailed, match=r"Claimant count \(direction\)"):
        indicator_ops.import_file(path, Options(release_date=TEST_RELEASE))
    report = import_file(path, polarity=Polarity.HIGHER_IS_WORSE, release_date=date(2024, 3, 12))
    assert report.format == "nomis"
    assert report.indicators == ["Claimant count"]  # from MEASURE_NAME: nothing else varies
    indicator = _indicator("Claimant count")
    assert (indicator.unit, indicator.value_kind, indicator.level.value, indicator.vintage) == (
        "count", ValueKind.COUNT, "ward", 2024
    )  # fmt: skip
    values = _values("Claimant count")
    assert values[(CENTRAL_WARD, "2024-02")].value == 625.0
    clifton = values[("E05010893", "2024-01")]
    assert (clifton.suppressed, clifton.note) == (True, "Q")  # OBS_STATUS kept with the withheld value


def test_census_bulk_table(bristol, import_file):
    report = import_file("census2021-ts001-lsoa-sample.csv", release_date=date(2022, 6, 28))
    assert report.format == "census"
    dataset = db.session.scalar(select(IndicatorDataset))
    assert (dataset.title, dataset.publisher) == ("Census 2021: TS001", "Office for National Statistics")
    assert report.indicators == [
        "Residence type: Total",
        "Residence type: Lives in a household",
        "Residence type: Lives in a communal establishment",
    ]
    total = _indicator("Residence type: Total")
    assert (total.value_kind, total.polarity, total.vintage) == (ValueKind.COUNT, Polarity.NEUTRAL, 2021)
    assert _values("Residence type: Lives in a communal establishment")[("E01033342", "2021")].value == 815.0
    assert report.unknown_codes == {"E01000001": 1}  # City of London: another place


def test_stat_xplore_table(bristol, import_file):
    """Title line, a field row, the header of months, ward names, a Total row and a footnote: the wide reader."""
    report = import_file("statxplore_uc_households_sample.csv", unit="households", polarity=Polarity.HIGHER_IS_WORSE)
    assert report.format == "wide"
    assert report.header_row == 4
    assert report.indicators == ["Households on Universal Credit"]
    assert report.unmatched_names == {"Total": 1}
    values = _values("Households on Universal Credit")
    assert values[(CENTRAL_WARD, "2024-03")].value == 1322.0
    assert values[("E05010893", "2024-03")].suppressed  # "*"
    assert report.periods == ["2024-01", "2024-02", "2024-03"]


def test_gov_uk_iod2025_file2_layout(bristol, import_file):
    report = import_file("iod2025_file2_layout_central.csv")
    assert report.format == "iod"
    dataset = db.session.scalar(select(IndicatorDataset))
    assert (dataset.title, dataset.key, dataset.release_date) == (
        "English Indices of Deprivation 2025", "iod", date(2025, 10, 30)
    )  # fmt: skip
    imd = _indicator("Index of Multiple Deprivation (IMD)")
    assert (imd.key, imd.vintage, imd.ranked_areas, imd.value_kind) == ("imd", 2021, 33_755, ValueKind.RANK)
    assert len(_values("Living Environment domain")) == 12  # Central's 12 LSOAs (2021)


def test_an_iod_release_the_headers_do_not_name_is_asked_for(bristol, tmp_path):
    """IoD2015 and IoD2019 both used 2011 LSOAs: a file whose local authority column is of 2013 is not IoD2019."""
    text = (DATA / "iod2019_file2_slice.csv").read_text(encoding="utf-8-sig")
    path = tmp_path / "iod2015.csv"
    path.write_text(text.replace("District code (2019)", "District code (2013)"))
    with pytest.raises(OperationError, match="do not say which release"):
        indicator_ops.import_file(path)
    report = indicator_ops.import_file(
        path, Options(dataset_title="English Indices of Deprivation 2015", release_date=date(2015, 9, 30))
    )
    assert report.imported == 64
    assert _indicator("Crime domain").ranked_areas is None  # not known for a release the headers did not name


def test_an_iod_rank_beyond_the_release_is_refused(bristol, tmp_path):
    with (DATA / "iod2025_file2_layout_central.csv").open(newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0][4] == "Index of Multiple Deprivation (IMD) Rank (where 1 is most deprived)"
    rows[1][4] = "40000"  # IoD2025 ranks 33,755 LSOAs
    path = tmp_path / "iod.csv"
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    with pytest.raises(OperationError, match="rank 40000 is above the 33,755 LSOAs"):
        indicator_ops.import_file(path)
