"""Bulk import: reading files, guessing columns, every bad row reported, all or nothing, no duplicates."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from submissions import importer, spreadsheets
from submissions import operations as submission_ops
from submissions.models import Observation
from webapp.extensions import db

HEADER = "Ref,Date,Ward,Need or asset,Category,Notes,People"
GOOD = [
    "R1,2025-01-14,Ashley,need,food,Three families asked for baby milk and nappies this week.,3",
    "R2,2025-02,Lawrence Hill,asset,Community activities and assets,The Tuesday youth club is full every week.,25",
    "R3,,,need,housing-and-homelessness,Damp and mould reported in two flats on the estate.,",
]


def csv_bytes(lines, encoding="utf-8") -> bytes:
    return ("\n".join(lines) + "\n").encode(encoding)


def count() -> int:
    return db.session.scalar(select(func.count()).select_from(Observation))


def run(data: bytes, name="file.csv", org=None, **kw):
    table = spreadsheets.read_table(data, name)
    return importer.import_table(table, importer.guess_mapping(table.headers), org, None, **kw)


def test_guessing_columns():
    mapping = importer.guess_mapping(HEADER.split(","))
    assert mapping == {
        "external_ref": "Ref",
        "period": "Date",
        "area": "Ward",
        "kind": "Need or asset",
        "category": "Category",
        "text": "Notes",
        "people_affected": "People",
    }


def test_guessing_the_columns_people_really_write():
    """Headers from partners' own spreadsheets: before, 3 of these 7 were guessed and the rest had to be chosen."""
    headers = ["What we heard", "Ward / area", "Date seen", "Need or asset", "Category of need",
               "Number of people affected", "Our reference"]  # fmt: skip
    assert importer.guess_mapping(headers) == {
        "text": "What we heard", "area": "Ward / area", "period": "Date seen", "kind": "Need or asset",
        "category": "Category of need", "people_affected": "Number of people affected", "external_ref": "Our reference",
    }  # fmt: skip
    # A header whose words name two fields ("Area notes": area or text?) is left for the person to match.
    assert importer.guess_mapping(["Area notes", "Kind"]) == {"kind": "Kind"}
    # A column already matched by its exact name is not taken again by a looser one.
    assert importer.guess_mapping(["Notes", "Other notes"]) == {"text": "Notes"}


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_encodings(sharing_world, encoding):
    text = "Café on Stapleton Road gives £3 meals – pay what you can, “no questions”."
    data = csv_bytes([HEADER, f'R9,2025-03-01,Ashley,asset,food,"{text}",'], encoding)
    result = run(data, org=sharing_world["org"])
    obs = db.session.get(Observation, result.imported_ids[0])
    assert obs.text == text
    assert spreadsheets.read_table(data, "x.csv").headers[0] == "Ref"  # no BOM left in the first header


def test_xlsx(sharing_world):
    wb = Workbook()
    ws = wb.active
    ws.append(HEADER.split(","))
    ws.append([101, None, "E05010885", "need", "food", "Pensioners skipping meals to pay for heating.", 12.0])
    ws.append([None] * 7)  # trailing empty rows are ignored
    buffer = io.BytesIO()
    wb.save(buffer)
    result = run(buffer.getvalue(), "sheet.xlsx", org=sharing_world["org"])
    obs = db.session.get(Observation, result.imported_ids[0])
    assert (obs.external_ref, obs.people_affected) == ("101", 12)


@pytest.mark.parametrize(
    ("data", "name", "words"),
    [
        (b"a,b\n1,2\n", "notes.txt", "CSV or XLSX"),
        (b"%PDF-1.4 ...", "report.pdf", "CSV or XLSX"),
        (b"", "empty.csv", "empty"),
        (b"\n\n  \n", "blank.csv", "empty"),
        (b"Text,Kind\n", "header-only.csv", "no data rows"),
        (b"Text,Kind,text\nabc,need,x\n", "dupes.csv", "more than once"),
        (b"\x00\x01\x02binary", "fake.csv", "not a CSV"),
        (b"not a zip at all", "fake.xlsx", "not an XLSX"),
        (b"PK\x03\x04broken", "broken.xlsx", "cannot be read"),
    ],
)
def test_bad_files(data, name, words):
    with pytest.raises(spreadsheets.ImportFileError, match=words):
        spreadsheets.read_table(data, name)


def test_a_file_with_bad_rows_stores_nothing_and_lists_every_problem(sharing_world):
    lines = [
        HEADER,
        *GOOD,
        "R4,2999-01-01,Ashley,need,food,Future dated row should fail.,1",
        "R5,2025-01-01,Narnia,need,food,Unknown area should fail here.,1",
        "R6,2025-01-01,Ashley,need,astrology,Unknown category should fail.,-2",
        "R7,2025-01-01,Ashley,need,food,short,1",
        "R1,2025-01-01,Ashley,need,food,Repeats the first reference in the file.,1",
    ]
    before = count()
    with pytest.raises(importer.ImportRejected) as rejected:
        run(csv_bytes(lines), org=sharing_world["org"])
    assert count() == before
    errors = {(e.row, e.column) for e in rejected.value.preview.errors}
    assert errors == {(5, "Date"), (6, "Ward"), (7, "Category"), (7, "People"), (8, "Notes"), (9, "Ref")}
    messages = {e.row: e.message for e in rejected.value.preview.errors if e.column != "People"}
    assert "future" in messages[5]
    assert "Unknown area" in messages[6]
    assert "repeats row 2" in messages[9]


def test_valid_rows_only_and_the_skipped_rows_file(sharing_world):
    lines = [HEADER, *GOOD, "R5,2025-01-01,Narnia,need,food,Unknown area should fail here.,1"]
    table = spreadsheets.read_table(csv_bytes(lines), "f.csv")
    result = importer.import_table(
        table, importer.guess_mapping(table.headers), sharing_world["org"], None, valid_rows_only=True
    )
    assert result.imported == 3
    skipped = list(csv.reader(io.StringIO(importer.skipped_rows_csv(table, result.preview))))
    assert skipped[0] == ["row", "problems", *HEADER.split(",")]
    assert skipped[1][0] == "5"
    assert "Unknown area" in skipped[1][1]
    assert skipped[1][2:] == lines[-1].split(",")


def test_reimporting_with_a_ref_column_creates_no_duplicates(sharing_world):
    data = csv_bytes([HEADER, *GOOD])
    assert run(data, org=sharing_world["org"]).imported == 3
    again = run(data, org=sharing_world["org"])
    assert again.imported == 0
    assert again.preview.already_imported == [2, 3, 4]
    assert count() == 3


def test_missing_required_columns_are_named(sharing_world):
    table = spreadsheets.read_table(b"Notes,Ward\nSomething worth saying here,Ashley\n", "f.csv")
    with pytest.raises(spreadsheets.ImportFileError, match="Need or asset"):
        importer.import_table(table, importer.guess_mapping(table.headers), sharing_world["org"], None)
    result = importer.import_table(
        table, importer.guess_mapping(table.headers), sharing_world["org"], None,
        defaults={"kind": "need", "category": "food"},
    )  # fmt: skip
    assert result.imported == 1


def test_html_in_a_cell_is_stored_as_text(sharing_world):
    data = csv_bytes([HEADER, 'R1,2025-01-01,Ashley,need,food,"<img src=x onerror=alert(1)> queue at the door",1'])
    obs = db.session.get(Observation, run(data, org=sharing_world["org"]).imported_ids[0])
    assert obs.text == "<img src=x onerror=alert(1)> queue at the door"


def test_a_failure_half_way_leaves_the_database_unchanged(sharing_world, monkeypatch, app):
    """A crash while storing row 2 000 of 3 000 (after 1 000 rows were flushed) stores nothing."""
    lines = [HEADER] + [f"Q{i},2025-01-01,Ashley,need,food,Row number {i} of a large file.,1" for i in range(3000)]
    original = submission_ops._new
    calls = {"n": 0}

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2000:
            raise RuntimeError("disk full")
        return original(*args, **kwargs)

    monkeypatch.setattr(submission_ops, "_new", failing)
    before = count()
    runner = app.test_cli_runner()
    path = sharing_world["tmp"] / "big.csv"
    path.write_bytes(csv_bytes(lines))
    result = runner.invoke(args=["observations", "import", str(path), "--org", sharing_world["org"].slug,
                                 "--text-column", "Notes"])  # fmt: skip
    assert result.exit_code != 0
    assert calls["n"] == 2000
    db.session.expire_all()
    assert count() == before
