"""Statistical geography: the ONS lookup and boundary loaders, the CLI, and the areas pages."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from webapp import geography
from webapp.demo import BRISTOL, DATA
from webapp.extensions import db
from webapp.models import Area, AreaChange, AreaChangeKind, AreaLevel
from webapp.operations import OperationError

LOOKUP = DATA / "bristol_lsoa11_ward19_lad19_lookup.csv"


def _count(level: AreaLevel) -> int:
    return db.session.scalar(select(func.count()).select_from(Area).where(Area.level == level))


def test_bristol_lookup_builds_the_hierarchy(db_session):
    report = geography.load_lookup(LOOKUP, BRISTOL)
    assert report.rows == 263
    assert (_count(AreaLevel.LAD), _count(AreaLevel.WARD), _count(AreaLevel.LSOA)) == (1, 34, 263)
    lawrence_hill = db.session.scalar(select(Area).where(Area.name == "Lawrence Hill"))
    assert lawrence_hill.level is AreaLevel.WARD
    assert lawrence_hill.parent.code == BRISTOL
    assert all(child.level is AreaLevel.LSOA for child in lawrence_hill.children)
    assert len(lawrence_hill.children) > 3
    # Loading again changes nothing.
    again = geography.load_lookup(LOOKUP, BRISTOL)
    assert sum(again.created.values()) == 0
    assert sum(again.updated.values()) == 0


def test_boundaries_attach_to_matching_codes_and_report_the_rest(db_session, tmp_path):
    geography.load_lookup(LOOKUP, BRISTOL)
    report = geography.load_boundaries(DATA / "bristol_wards.geojson", AreaLevel.WARD)
    assert report.rows == 34
    assert report.unmatched == []
    ward = db.session.scalar(select(Area).where(Area.level == AreaLevel.WARD))
    assert json.loads(ward.boundary)["type"] in {"Polygon", "MultiPolygon"}
    stray = tmp_path / "stray.geojson"
    stray.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"WD19CD": "E05999999"},
                        "geometry": {"type": "Point", "coordinates": [0, 0]},
                    }
                ],
            }
        )
    )
    assert geography.load_boundaries(stray, "ward").unmatched == ["E05999999"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a,b,c\n1,2,3\n", "needs code and name columns"),
        (
            "LSOA11CD,LSOA11NM,WD19CD,WD19NM,LAD19CD,LAD19NM\nE01014485,Bristol 023A,BAD,Ashley,E06000023,Bristol\n",
            "Row 2, column WD19CD",
        ),
        ("LSOA11CD,LSOA11NM,WD19CD,WD19NM,LAD19CD,LAD19NM\n", "no rows"),
    ],
)
def test_bad_lookups_are_refused_with_the_row_and_column(db_session, tmp_path, content, message):
    path = tmp_path / "lookup.csv"
    path.write_text(content)
    with pytest.raises(OperationError, match=message):
        geography.load_lookup(path)


def test_not_geojson_is_refused(db_session, tmp_path):
    path = tmp_path / "x.geojson"
    path.write_text("not json")
    with pytest.raises(OperationError, match="not GeoJSON"):
        geography.load_boundaries(path, "ward")


def test_cli_loads_geography_in_one_transaction(app, db_session, tmp_path):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "geography",
            "load",
            str(LOOKUP),
            "--boundaries",
            str(DATA / "bristol_wards.geojson"),
            "--level",
            "ward",
            "--local-authority",
            BRISTOL,
        ]
    )
    assert result.exit_code == 0, result.output
    assert "263 rows" in result.output
    assert "34 ward areas given a boundary" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "LSOA11CD,LSOA11NM,WD19CD,WD19NM,LAD19CD,LAD19NM\nE01000001,X 001A,E05000001,W,E09000001,L\n"
        "E01000002,X 001B,nonsense,W,E09000001,L\n"
    )
    failed = runner.invoke(args=["geography", "load", str(bad)])
    assert failed.exit_code != 0
    assert "Row 3, column WD19CD" in failed.output
    assert "Traceback" not in failed.output
    assert db.session.scalar(select(Area).where(Area.code == "E01000001")) is None, "nothing half-written"


def test_areas_page_lists_bristol_wards(client_for, db_session):
    geography.load_lookup(LOOKUP, BRISTOL)
    db.session.commit()
    page = client_for("resident").get("/areas/").get_data(as_text=True)
    assert "34 wards" in page
    for ward in ("Ashley", "Lawrence Hill", "Filwood", "Southmead"):
        assert ward in page
    found = client_for("resident").get("/areas/?q=lawrence").get_data(as_text=True)
    assert "Lawrence Hill" in found
    assert "Filwood" not in found


# Vintages: LSOA 2011 / 2021, ward 2019 / 2024, and the LSOA 2011 → 2021 bridge -----------------------------------

LOOKUP_2021 = DATA / "bristol_lsoa21_ward24_lad24_lookup.csv"  # snake case: lsoa21_code, ward24_code, ltla24_code
BRIDGE = DATA / "bristol_lsoa11_lsoa21_lad22_bridge.csv"
SAMPLES = DATA.parent.parent / "tests" / "data" / "geography"
ONS_BRIDGE = SAMPLES / "lsoa11_lsoa21_lad22_ons_layout_sample.csv"  # LSOA11CD, LSOA21CD, CHGIND, LAD22CD ...


def _area(code: str) -> Area:
    return db.session.scalar(select(Area).where(Area.code == code))


def _current(level: AreaLevel, current: bool = True) -> int:
    stmt = select(func.count()).select_from(Area).where(Area.level == level, Area.current.is_(current))
    return db.session.scalar(stmt)


@pytest.mark.parametrize("order", ["2021 first", "2011 first"])
def test_two_vintages_make_one_area_per_code_and_the_newest_wins(db_session, order):
    lookups = [LOOKUP_2021, LOOKUP] if order == "2021 first" else [LOOKUP, LOOKUP_2021]
    reports = [geography.load_lookup(path, BRISTOL) for path in lookups]
    assert {r.vintages[AreaLevel.LSOA] for r in reports} == {2011, 2021}
    assert reports[0 if order == "2021 first" else 1].vintages[AreaLevel.WARD] == 2024
    # 259 LSOA codes are in both vintages: one area each. 4 (2011) were split into 9 (2021).
    assert (_current(AreaLevel.LSOA), _current(AreaLevel.LSOA, False)) == (268, 4)
    assert (_current(AreaLevel.WARD), _current(AreaLevel.WARD, False), _current(AreaLevel.LAD)) == (34, 0, 1)
    unchanged = _area("E01014485")
    assert unchanged.vintage_years == [2011, 2021]
    assert unchanged.name == "Bristol 058A"  # the 2021 name; the 2011 one is kept with its vintage
    assert {v.year: v.name for v in unchanged.vintages} == {2011: "Bristol 023A", 2021: "Bristol 058A"}
    assert unchanged.vintage_label == "LSOA 2011 and 2021"
    split = _area("E01014540")  # Bristol 032B (2011), split into three in 2021
    assert (split.current, split.vintage_years, split.parent.name) == (False, [2011], "Central")
    new = _area("E01033907")
    assert (new.current, new.vintage_years, new.parent.name) == (True, [2021], "Central")
    assert _area("E05010892").vintage_label == "Ward 2019 and 2024"
    again = [geography.load_lookup(path, BRISTOL) for path in lookups]
    assert sum(sum(r.created.values()) + sum(r.updated.values()) for r in again) == 0


def test_lookup_columns_are_detected_not_hard_coded(db_session, tmp_path):
    assert geography.find_lookup_columns(["lsoa21_name", "lsoa21_code", "ward24_name", "ward24_code",
                                          "ltla24_name", "ltla24_code"])[AreaLevel.LAD].year == 2024  # fmt: skip
    columns = geography.find_lookup_columns(["FID", "LSOA11CD", "LSOA11NM", "WD19CD", "WD19NM", "LAD19CD", "LAD19NM"])
    assert (columns[AreaLevel.WARD].code, columns[AreaLevel.WARD].year) == ("WD19CD", 2019)
    with pytest.raises(OperationError, match="it is a bridge between vintages, not a lookup"):
        geography.load_lookup(ONS_BRIDGE)
    path = tmp_path / "two.csv"
    path.write_text("LSOA21CD,LSOA21NM,WD23CD,WD23NM,WD24CD,WD24NM,LAD24CD,LAD24NM\n")
    with pytest.raises(OperationError, match="several wards code columns"):
        geography.load_lookup(path)


def test_the_ons_bridge_layout_loads_with_its_change_codes(db_session):
    """The ONS file's own layout (LSOA11CD, LSOA11NM, LSOA21CD, LSOA21NM, CHGIND, LAD22CD, LAD22NM, LAD22NMW,
    ObjectId), real rows: Bristol's Central (U and S), Hartlepool (M) and Gateshead/Northumberland (X)."""
    for path in (
        LOOKUP_2021,
        LOOKUP,
        SAMPLES / "lsoa21_ward24_lad24_sample.csv",
        SAMPLES / "lsoa11_ward19_lad19_sample.csv",
    ):
        geography.load_lookup(path)
    report = geography.load_bridge(ONS_BRIDGE)
    assert (report.old_year, report.new_year) == (2011, 2021)
    assert dict(report.pairs) == {"U": 4, "S": 9, "M": 2, "X": 3}
    merged = _area("E01035188")  # Hartlepool 015C: two 2011 LSOAs merged
    olds = sorted(c.old_area.code for c in geography.changes_to(merged))
    assert olds == ["E01011973", "E01011976"]
    assert {c.change for c in geography.changes_to(merged)} == {AreaChangeKind.MERGED}
    # Their 2019 ward (Victoria, E05008952) is not in the 2024 lookup (Victoria is E05013049 now): superseded, and
    # the 2011 LSOAs are placed in their successor's current ward so their datasets roll up to a current ward.
    assert _area("E05008952").current is False
    assert {_area(c).parent.code for c in olds} == {"E05013049"}
    assert report.reparented == 2
    complex_ = sorted(c.new_area.code for c in geography.changes_from(_area("E01008187")))
    assert complex_ == ["E01035624", "E01035637"]  # Gateshead 024C: redrawn across two authorities
    # Its own 2019 ward still exists: it stays there.
    assert _area("E01008187").parent.code == "E05009313"
    again = geography.load_bridge(ONS_BRIDGE)
    assert db.session.scalar(select(func.count()).select_from(AreaChange)) == sum(again.pairs.values()) == 18


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("E01014540,Bristol 032B,E01033907,Bristol 061A,Q,E06000023,Bristol,,1", "Row 2, column CHGIND: 'Q' is not"),
        ("E01014540,Bristol 032B,E01033907,Bristol 061A,U,E06000023,Bristol,,1", "change U (unchanged) but the codes"),
        ("E01014540,Bristol 032B,bad,Bristol 061A,S,E06000023,Bristol,,1", "Row 2, column LSOA21CD: 'bad'"),
    ],
)
def test_a_bad_bridge_is_refused_with_row_and_column(db_session, tmp_path, row, message):
    path = tmp_path / "bridge.csv"
    path.write_text("LSOA11CD,LSOA11NM,LSOA21CD,LSOA21NM,CHGIND,LAD22CD,LAD22NM,LAD22NMW,ObjectId\n" + row + "\n")
    with pytest.raises(OperationError, match=re.escape(message)):
        geography.load_bridge(path)


def test_a_bridge_before_its_lookups_says_so(db_session):
    with pytest.raises(OperationError, match="load the LSOA 2011 and 2021 lookups first"):
        geography.load_bridge(ONS_BRIDGE)


def test_cli_loads_the_bridge(app, db_session):
    runner = app.test_cli_runner()
    for path in (LOOKUP_2021, LOOKUP):
        assert runner.invoke(args=["geography", "load", str(path), "--local-authority", BRISTOL]).exit_code == 0
    result = runner.invoke(args=["geography", "load-bridge", str(BRIDGE), "--local-authority", BRISTOL])
    assert result.exit_code == 0, result.output
    assert "268 pairs (259 unchanged, 9 split)" in result.output
    failed = runner.invoke(args=["geography", "load-bridge", str(LOOKUP)])
    assert failed.exit_code != 0
    assert "needs two LSOA code columns of different vintages" in failed.output
    assert "Traceback" not in failed.output


def test_areas_page_counts_current_lsoas_and_lists_the_superseded(client_for, db_session):
    from webapp import demo

    demo.load_geography()
    db.session.commit()
    page = client_for("resident").get("/areas/?level=lsoa").get_data(as_text=True)
    assert "268 LSOAs in commintel (LSOA 2021 geography)" in page
    superseded = page.split("Superseded LSOAs")[1]
    assert "Bristol 032B" in superseded
    assert "E01014540" in superseded
    assert "(LSOA 2011)" in superseded
    profile = client_for("resident").get("/areas/E01014540").get_data(as_text=True)
    assert "in 2021 it was split into" in profile
    for code in ("E01033907", "E01033908", "E01033910"):
        assert code in profile
    new = client_for("resident").get("/areas/E01033907").get_data(as_text=True)
    assert "New in the 2021 geography: split from" in new
    assert "E01014540" in new
