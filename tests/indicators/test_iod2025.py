"""IoD2025 on Bristol's LSOA 2021 geography (issue 15, "Done when"): every LSOA, the IMD and seven domains, score,
rank and decile identical to the file, exit 0; a ward's IoD2025 roll-up made the same way as IoD2019's."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import func, select

from indicators import aggregation
from indicators.figures import area_figures
from indicators.models import Indicator, IndicatorDataset, IndicatorValue
from tests.conftest import SHARED_DATA
from tests.indicators.conftest import CENTRAL_WARD
from webapp.extensions import db
from webapp.models import Area

ROOT = Path(__file__).resolve().parent.parent.parent
IOD2025_BRISTOL = ROOT / "indicators" / "demo_data" / "iod2025_bristol_lsoa21.csv"
IOD2019_BRISTOL = ROOT / "indicators" / "demo_data" / "iod2019_file2_bristol.csv"
IOD2025_ENGLAND = SHARED_DATA / "indicators" / "iod2025_lsoa21_scores_ranks_deciles.csv"
LOOKUP_2021 = ROOT / "webapp" / "demo_data" / "bristol_lsoa21_ward24_lad24_lookup.csv"
LOOKUP_2011 = ROOT / "webapp" / "demo_data" / "bristol_lsoa11_ward19_lad19_lookup.csv"
DOMAINS = {  # the file's column prefix → the indicator commintel names
    "IMD": "Index of Multiple Deprivation (IMD)",
    "Income": "Income domain",
    "Employment": "Employment domain",
    "Education": "Education, Skills and Training domain",
    "Health": "Health Deprivation and Disability domain",
    "Crime": "Crime domain",
    "Housing_and_Services": "Barriers to Housing and Services domain",
    "Environment": "Living Environment domain",
}


def _rows(path: Path, codes: set[str] | None = None) -> dict[str, dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        return {r["lsoa21_code"]: r for r in csv.DictReader(f) if codes is None or r["lsoa21_code"] in codes}


def _bristol_2021_codes() -> set[str]:
    with LOOKUP_2021.open(newline="", encoding="utf-8") as f:
        return {r["lsoa21_code"] for r in csv.DictReader(f)}


def _assert_identical_to(expected: dict[str, dict[str, str]]) -> None:
    stored = db.session.execute(
        select(Area.code, Indicator.name, IndicatorValue.value, IndicatorValue.rank, IndicatorValue.decile)
        .join(IndicatorValue, IndicatorValue.area_id == Area.id)
        .join(Indicator, Indicator.id == IndicatorValue.indicator_id)
    ).all()
    got = {(code, name): (value, rank, decile) for code, name, value, rank, decile in stored}
    assert len(got) == 268 * 8
    for code, row in expected.items():
        for prefix, name in DOMAINS.items():
            want = (
                float(row[f"{prefix}_score"]),
                int(float(row[f"{prefix}_rank"])),
                int(float(row[f"{prefix}_decile"])),
            )
            assert got[(code, name)] == want, (code, name)


def _check_release() -> None:
    dataset = db.session.scalar(select(IndicatorDataset))
    assert (dataset.key, dataset.release_date.isoformat()) == ("iod", "2025-10-30")
    for indicator in db.session.scalars(select(Indicator)):
        assert (indicator.level.value, indicator.vintage, indicator.ranked_areas) == ("lsoa", 2021, 33_755)
        assert indicator.value_kind.value == "rank"
    assert {i.key for i in db.session.scalars(select(Indicator))} == {
        "imd", "income", "employment", "education", "health", "crime", "barriers", "environment"
    }  # fmt: skip


def test_the_bristol_subset_is_stored_for_all_268_lsoas_identical_to_the_file(app, bristol):
    result = app.test_cli_runner().invoke(args=["indicators", "import", str(IOD2025_BRISTOL)])
    assert result.exit_code == 0, result.output
    assert "Values imported: 2,144" in result.output
    expected = _rows(IOD2025_BRISTOL)
    assert set(expected) == _bristol_2021_codes()
    _assert_identical_to(expected)
    _check_release()


@pytest.mark.skipif(not IOD2025_ENGLAND.exists(), reason=f"the shared data folder is absent ({IOD2025_ENGLAND})")
def test_the_issue_command_on_the_full_england_file(app, bristol):
    """The command of the issue, which stored a data row as the header and exited 0: now every Bristol LSOA."""
    result = app.test_cli_runner().invoke(
        args=["indicators", "import", str(IOD2025_ENGLAND), "--dataset-title", "IoD2025", "--publisher", "MHCLG",
              "--licence", "OGL-3.0"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "read as iod (English Indices of Deprivation 2025" in result.output
    assert "Rows matched to an area: 268 of 268 (100%)." in result.output
    assert "33,487 rows for places outside the loaded geography" in result.output
    expected = _rows(IOD2025_ENGLAND, _bristol_2021_codes())
    assert len(expected) == 268
    _assert_identical_to(expected)
    dataset = db.session.scalar(select(IndicatorDataset))
    assert (dataset.title, dataset.publisher, dataset.licence) == ("IoD2025", "MHCLG", "OGL-3.0")


def _share_in_most_deprived(deciles: list[int]) -> tuple[float, float]:
    return sum(d == 1 for d in deciles) / len(deciles), sum(d <= 2 for d in deciles) / len(deciles)


def test_a_wards_iod2025_roll_up_is_made_as_iod2019s(bristol, import_file):
    import_file(IOD2025_BRISTOL)
    import_file(IOD2019_BRISTOL)
    ward = db.session.scalar(select(Area).where(Area.code == CENTRAL_WARD))
    # By hand, from the files and the ONS lookups: Central's 12 LSOAs (2021) and its 8 LSOAs (2011).
    with LOOKUP_2021.open(newline="") as f:
        lsoas_2021 = {r["lsoa21_code"] for r in csv.DictReader(f) if r["ward24_code"] == CENTRAL_WARD}
    with LOOKUP_2011.open(newline="") as f:
        lsoas_2011 = {r["LSOA11CD"] for r in csv.DictReader(f) if r["WD19CD"] == CENTRAL_WARD}
    assert (len(lsoas_2021), len(lsoas_2011)) == (12, 8)
    deciles_2025 = [int(float(r["IMD_decile"])) for r in _rows(IOD2025_BRISTOL, lsoas_2021).values()]
    with IOD2019_BRISTOL.open(newline="", encoding="utf-8-sig") as f:
        deciles_2019 = [
            int(r["Index of Multiple Deprivation (IMD) Decile (where 1 is most deprived 10% of LSOAs)"])
            for r in csv.DictReader(f)
            if r["LSOA code (2011)"] in lsoas_2011
        ]
    share_2025, share20_2025 = _share_in_most_deprived(deciles_2025)
    share_2019, _ = _share_in_most_deprived(deciles_2019)

    figures = {f.indicator.name: f for f in area_figures(ward)}
    imd = figures["Index of Multiple Deprivation (IMD)"]
    assert imd.dataset.title == "English Indices of Deprivation 2025"  # the latest release is the figure
    assert imd.method == aggregation.METHODS["rank"]
    assert imd.value == pytest.approx(share_2025)
    assert imd.display == (f"{share_2025:.0%} of LSOAs in England's most deprived 10% ({share20_2025:.0%} in the 20%)")
    (earlier,) = imd.earlier  # IoD2019, rolled up the same way from its own (2011) LSOAs
    assert earlier.dataset.title == "English Indices of Deprivation 2019"
    assert earlier.display.startswith(f"{share_2019:.0%} of LSOAs in England's most deprived 10%")
    assert (f"{share_2019:.0%} then, {share_2025:.0%} now") in earlier.comparison
    # Both releases roll up through the same function with their own number of ranked LSOAs.
    rows_2019 = [(None, None, d) for d in deciles_2019]
    assert aggregation.rollup_rows(rows_2019, "rank", 8, 32_844).share_10 == pytest.approx(share_2019)
    assert db.session.scalar(select(func.count()).select_from(IndicatorDataset)) == 2
