"""The neighbourhood gazetteer: the loader (good and bad files), the CLI, and what the demo ships."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from webapp import geography
from webapp.demo import BRISTOL, DATA, LOOKUP_2021, NEIGHBOURHOODS
from webapp.extensions import db
from webapp.models import Neighbourhood


def _count() -> int:
    return db.session.scalar(select(func.count()).select_from(Neighbourhood))


@pytest.fixture
def bristol(db_session):
    geography.load_lookup(DATA / LOOKUP_2021, BRISTOL)


def test_place_key_ignores_case_punctuation_and_ampersands():
    assert geography.place_key("St. Paul's") == geography.place_key("st pauls") == "st pauls"
    assert geography.place_key("Hotwells & Harbourside") == "hotwells and harbourside"
    assert geography.place_key("  Westbury-on-Trym ") == "westbury on trym"


def test_the_demo_gazetteer_places_bristol_neighbourhoods_in_their_wards(bristol):
    report = geography.load_neighbourhoods(DATA / NEIGHBOURHOODS)
    assert report.created == report.rows == _count() > 40
    expected = {"Barton Hill": "Lawrence Hill", "St Pauls": "Ashley", "Knowle West": "Filwood",
                "Totterdown": "Windmill Hill", "Lawrence Weston": "Avonmouth and Lawrence Weston"}  # fmt: skip
    for place, ward in expected.items():
        found = geography.find_neighbourhood(place)
        assert found is not None, place
        assert found.ward.name == ward
    assert geography.find_neighbourhood("st. paul's").name == "St Pauls"
    assert geography.find_neighbourhood("Atlantis") is None
    again = geography.load_neighbourhoods(DATA / NEIGHBOURHOODS)
    assert (again.created, again.updated) == (0, 0), "loading again changes nothing"


def test_loading_again_moves_a_neighbourhood(bristol, tmp_path):
    geography.load_neighbourhoods(DATA / NEIGHBOURHOODS)
    moved = tmp_path / "moved.csv"
    moved.write_text("neighbourhood,ward_code\nBarton Hill,E05010896\n")  # Easton
    report = geography.load_neighbourhoods(moved)
    assert (report.created, report.updated) == (0, 1)
    assert geography.find_neighbourhood("Barton Hill").ward.name == "Easton"


def test_a_file_without_the_columns_is_refused(bristol, tmp_path):
    path = tmp_path / "places.csv"
    path.write_text("place_name,district\nBarton Hill,Lawrence Hill\n")
    with pytest.raises(geography.OperationError, match=r"needs a ward_code column.*found: place_name, district"):
        geography.load_neighbourhoods(path)
    path.write_text("area,ward_code\nBarton Hill,E05010907\n")
    with pytest.raises(geography.OperationError, match="needs a neighbourhood column"):
        geography.load_neighbourhoods(path)
    assert _count() == 0


def test_every_bad_row_is_reported_by_number_and_nothing_is_stored(bristol, tmp_path):
    path = tmp_path / "places.csv"
    path.write_text(
        "neighbourhood,ward_code,ward_name\n"
        "Barton Hill,E05010907,Lawrence Hill\n"  # row 2: good
        ",E05010907,Lawrence Hill\n"  # row 3: no name
        "St Pauls,ashley,Ashley\n"  # row 4: not a code
        "Knowle West,E05999999,Filwood\n"  # row 5: no such ward
        "Totterdown,E05010918,Filwood\n"  # row 6: code and name disagree
        "Barton  hill,E05010896,Easton\n"  # row 7: already placed elsewhere on row 2
    )
    with pytest.raises(geography.BadRows) as failed:
        geography.load_neighbourhoods(path)
    problems = failed.value.problems
    assert [p.split(",")[0] for p in problems] == ["Row 3", "Row 4", "Row 5", "Row 6", "Row 7"]
    assert "column ward_code: 'ASHLEY' is not an ONS ward code" in problems[1]
    assert "no ward E05999999 is loaded" in problems[2]
    assert "'Filwood' is not the name of ward E05010918 (Windmill Hill)" in problems[3]
    assert "already placed in Lawrence Hill on row 2" in problems[4]
    assert failed.value.message.startswith("Nothing was loaded: 5 bad rows")
    assert _count() == 0, "a file with a bad row stores nothing, not even its good rows"


def test_a_binary_file_is_refused_with_a_message(bristol, tmp_path):
    path = tmp_path / "places.csv"
    path.write_bytes(b"\xff\xfe\x00\x01neighbourhood")
    with pytest.raises(geography.OperationError, match="not UTF-8"):
        geography.load_neighbourhoods(path)


def test_cli_loads_neighbourhoods_or_nothing(app, bristol, tmp_path):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["geography", "load-neighbourhoods", str(DATA / NEIGHBOURHOODS)])
    assert result.exit_code == 0, result.output
    assert f"Gazetteer: {_count()} neighbourhoods: {_count()} new" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text("neighbourhood,ward_code\nNew Place,E05010907\nOther Place,nonsense\n")
    failed = runner.invoke(args=["geography", "load-neighbourhoods", str(bad)])
    assert failed.exit_code != 0
    assert "Row 3, column ward_code" in failed.output
    assert "Traceback" not in failed.output
    assert geography.find_neighbourhood("New Place") is None, "nothing half-stored"
