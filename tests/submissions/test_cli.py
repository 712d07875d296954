"""`commintel observations import FILE --org SLUG --text-column COL [...]`."""

from __future__ import annotations

from sqlalchemy import func, select

from submissions.models import Observation
from webapp.extensions import db


def _count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Observation))


def _write(world, name, lines):
    path = world["tmp"] / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


LINES = [
    "case,seen,place,type,topic,what",
    "C1,2025-04-02,Ashley,need,Food,Families are skipping meals before payday again.",
    "C2,2025-04,E01014488,asset,community-activities-and-assets,The library's homework club is a lifeline.",
]


def _invoke(app, *args):
    return app.test_cli_runner().invoke(args=["observations", "import", *args])


def test_import_with_every_column_option(app, sharing_world):
    path = _write(sharing_world, "ok.csv", LINES)
    args = [
        path,
        "--org",
        sharing_world["org"].slug,
        "--text-column",
        "what",
        "--area-column",
        "place",
        "--date-column",
        "seen",
        "--kind-column",
        "type",
        "--category-column",
        "topic",
        "--ref-column",
        "case",
    ]
    result = _invoke(app, *args)
    assert result.exit_code == 0, result.output
    assert "Imported 2 rows." in result.output
    assert _count() == 2
    again = _invoke(app, *args)
    assert again.exit_code == 0
    assert "Imported 0 rows." in again.output
    assert "2 rows already imported" in again.output
    assert _count() == 2


def test_rejected_rows_are_printed_and_nothing_is_imported(app, sharing_world):
    path = _write(sharing_world, "bad.csv", [*LINES, "C3,2025-04-01,Narnia,need,food,Somewhere nobody has heard of."])
    base = [
        path,
        "--org",
        sharing_world["org"].slug,
        "--text-column",
        "what",
        "--area-column",
        "place",
        "--kind-column",
        "type",
        "--category-column",
        "topic",
        "--ref-column",
        "case",
        "--date-column",
        "seen",
    ]
    result = _invoke(app, *base)
    assert result.exit_code == 1
    assert "Row 4, column 'place': Unknown area 'Narnia'" in result.output
    assert _count() == 0
    result = _invoke(app, *base, "--valid-rows-only")
    assert result.exit_code == 0, result.output
    assert "Imported 2 rows." in result.output
    assert "Row 4" in result.output
    assert _count() == 2


def test_exits_non_zero_when_every_row_is_bad_even_with_valid_rows_only(app, sharing_world):
    path = _write(sharing_world, "allbad.csv", ["what,type,topic", "short,need,food"])
    result = _invoke(app, path, "--org", sharing_world["org"].slug, "--text-column", "what", "--valid-rows-only")
    assert result.exit_code == 1
    assert "too short" in result.output


def test_clear_messages_for_bad_arguments(app, sharing_world):
    path = _write(sharing_world, "ok.csv", LINES)
    assert "no organisation" in _invoke(app, path, "--org", "nope", "--text-column", "what").output
    assert "no column 'missing'" in _invoke(app, path, "--org", sharing_world["org"].slug,
                                            "--text-column", "missing").output  # fmt: skip
    no_kind = _write(sharing_world, "nokind.csv", ["what", "Something that is long enough."])
    result = _invoke(app, no_kind, "--org", sharing_world["org"].slug, "--text-column", "what")
    assert result.exit_code != 0
    assert "Need or asset" in result.output
    result = _invoke(app, no_kind, "--org", sharing_world["org"].slug, "--text-column", "what", "--kind", "need",
                     "--category", "food")  # fmt: skip
    assert result.exit_code == 0, result.output
    empty = _write(sharing_world, "empty.csv", [""])
    result = _invoke(app, empty, "--org", sharing_world["org"].slug, "--text-column", "what")
    assert result.exit_code != 0
    assert "empty" in result.output
