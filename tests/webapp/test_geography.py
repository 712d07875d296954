"""Statistical geography: the ONS lookup and boundary loaders, the CLI, and the areas pages."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from webapp import geography
from webapp.demo import BRISTOL, DATA
from webapp.extensions import db
from webapp.models import Area, AreaLevel
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
