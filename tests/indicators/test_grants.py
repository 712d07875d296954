"""Grants beside need (issue 19, part 3): the 360Giving import in both layouts, its row-level report and
all-or-nothing store, hostile files, funding per head and per observation on a hand-computed example, and who may
read and import."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from indicators.grants import importer, need, standard
from indicators.grants.models import Grant, GrantFile, GrantPlace
from indicators.models import Indicator, IndicatorDataset, IndicatorValue, PeriodKind, ValueKind
from tests.conftest import sign_in
from tests.indicators.conftest import BRISTOL
from webapp import disclosure
from webapp import operations as webapp_ops
from webapp.extensions import db
from webapp.models import Area, OrgKind, Postcode

DATA = Path(__file__).resolve().parent.parent / "data" / "grants"
LAWRENCE_HILL, CLIFTON, FILWOOD_LSOA = "E05010907", "E05010893", "E01014580"
CLIFTON_LSOA = "E01014555"


def area(code: str) -> Area:
    return db.session.scalar(select(Area).where(Area.code == code))


@pytest.fixture
def over_bristol(bristol, world):
    partnership = world["partnership"]
    partnership.areas.append(area(BRISTOL))
    db.session.commit()
    return partnership


def stored() -> int:
    return db.session.scalar(select(func.count()).select_from(Grant))


def rejected(data: bytes, filename: str, partnership) -> importer.Report:
    with pytest.raises(importer.GrantImportRejected) as caught:
        importer.import_grants(data, filename, partnership, None)
    db.session.rollback()
    assert stored() == 0
    assert db.session.scalar(select(func.count()).select_from(GrantFile)) == 0
    return caught.value.report


def problems(report: importer.Report) -> set[tuple[str, str]]:
    return {(p.row, p.field) for p in report.problems}


# The vendored schema -------------------------------------------------------------------------------------------------


def test_the_vendored_schema_is_the_published_one_with_its_licence():
    schema = standard.grant_schema()
    assert schema["$id"].endswith("/1.4.3/schema/360-giving-schema.json")
    assert schema["$schema"] == "http://json-schema.org/draft/2020-12/schema"
    provenance = (standard.SCHEMA_DIR / "PROVENANCE.md").read_text()
    assert "Creative Commons Attribution 4.0" in provenance
    assert "9387abcf8fa3" in provenance
    # The flattened titles come from the schema itself, as GrantNav writes them.
    titles = standard.flattened_titles()
    for title in ("Identifier", "Amount Awarded", "Award Date", "Currency", "Recipient Org:Identifier",
                  "Recipient Org:Name", "Recipient Org:Postal Code", "Beneficiary Location:Geographic Code",
                  "Beneficiary Location:Geographic Code Type", "Funding Org:Identifier",
                  "Funding Org:Name"):  # fmt: skip
        assert title.lower() in titles, title
    assert standard.column_for("Beneficiary Location:1:Geographic Code").path == ("beneficiaryLocation", 1, "geoCode")


def test_a_date_time_award_date_passes_and_a_plain_date_matches_once():
    validator = standard.grant_validator()
    grant = json.loads((DATA / "valid.json").read_text())["grants"][0]
    assert list(validator.iter_errors(grant)) == []
    assert list(validator.iter_errors({**grant, "awardDate": "2025-03-15T09:30:00+01:00"})) == []
    assert list(validator.iter_errors({**grant, "awardDate": "15/03/2025"}))


# Importing -----------------------------------------------------------------------------------------------------------


def test_a_valid_csv_is_stored_and_placed_in_wards(over_bristol):
    report = importer.import_grants((DATA / "valid.csv").read_bytes(), "valid.csv", over_bristol, None)
    db.session.commit()
    assert (report.grants, report.problems, report.ignored_columns) == (3, [], ["Notes of our own"])
    grants = {g.identifier: g for g in db.session.scalars(select(Grant))}
    assert grants["360G-TEST-0002"].amount_pence == 480050
    assert grants["360G-TEST-0002"].award_date == date(2025, 3, 11)  # from the date-time
    places = {p.grant.identifier: p for p in db.session.scalars(select(GrantPlace))}
    assert places["360G-TEST-0001"].ward_id == area(LAWRENCE_HILL).id
    assert places["360G-TEST-0002"].area_id == area(FILWOOD_LSOA).id
    assert places["360G-TEST-0002"].ward_id == area(FILWOOD_LSOA).parent_id  # an LSOA's money goes to its ward
    assert places["360G-TEST-0003"].ward_id is None  # the whole authority: not shared out between wards


def test_a_valid_json_package_is_stored_split_and_keeps_nothing_of_an_individual(over_bristol):
    report = importer.import_grants((DATA / "valid.json").read_bytes(), "valid.json", over_bristol, None)
    db.session.commit()
    assert report.grants == 2
    assert report.layout == "json"
    split = db.session.scalar(select(Grant).where(Grant.identifier == "360G-TEST-J001"))
    assert sorted(p.amount_pence for p in split.places) == [500000, 500000]
    individual = db.session.scalar(select(Grant).where(Grant.identifier == "360G-TEST-J002"))
    assert (individual.recipient_name, individual.recipient_identifier) == ("an individual", "")


def test_an_xlsx_with_typed_cells_is_stored(over_bristol):
    book = Workbook()
    sheet = book.active
    sheet.append(["Identifier", "Title", "Description", "Currency", "Amount Awarded", "Award Date",
                  "Recipient Org:Identifier", "Recipient Org:Name", "Beneficiary Location:Geographic Code",
                  "Funding Org:Identifier", "Funding Org:Name"])  # fmt: skip
    sheet.append(["360G-X-1", "Lunch club", "Test", "GBP", 2500, date(2025, 3, 1), 1234567, "Org", CLIFTON,
                  "XI-F", "Fund"])  # fmt: skip
    out = io.BytesIO()
    book.save(out)
    importer.import_grants(out.getvalue(), "grants.xlsx", over_bristol, None)
    grant = db.session.scalar(select(Grant))
    assert (grant.amount_pence, grant.award_date, grant.recipient_identifier) == (250000, date(2025, 3, 1), "1234567")


def test_an_invalid_csv_reports_each_row_and_field_and_stores_nothing(over_bristol):
    report = rejected((DATA / "invalid.csv").read_bytes(), "invalid.csv", over_bristol)
    found = problems(report)
    assert ("Row 2", "Identifier") in found  # missing identifier
    assert ("Row 3", "Amount Awarded") in found  # "£1,500": text, not a number
    assert ("Row 4", "Beneficiary Location:Geographic Code") in found  # not in commintel's geography
    assert ("Row 5", "Award Date") in found  # 31/03/2025
    assert ("Row 6", "Currency") in found  # USD
    assert ("Row 8", "Award Date") in found
    assert ("Row 8", "Recipient Org:Identifier") in found
    assert not any(p.row == "Row 7" for p in report.problems)  # the good row is fine, and still not stored
    text = {(p.row, p.field): p.problem for p in report.problems}
    assert "is text, not a number" in text[("Row 3", "Amount Awarded")]
    assert "E05999999" in text[("Row 4", "Beneficiary Location:Geographic Code")]
    assert "GBP" in text[("Row 6", "Currency")]
    assert "is not a date that exists" in text[("Row 8", "Award Date")]
    assert report.bad_rows == 6


def test_an_invalid_json_package_reports_each_grant_and_stores_nothing(over_bristol):
    report = rejected((DATA / "invalid.json").read_bytes(), "invalid.json", over_bristol)
    found = problems(report)
    assert ("Package", "version") in found  # "one" is not major.minor (the package schema)
    assert ("Grant 1", "Identifier") in found
    assert ("Grant 2", "Amount Awarded") in found
    assert ("Grant 3", "Beneficiary Location:Geographic Code") in found
    assert ("Grant 4", "Award Date") in found
    assert ("Grant 5", "Currency") in found
    assert ("Grant 6", "Recipient Org:Identifier") in found  # required inside the organisation
    assert ("Grant 6", "Beneficiary Location:Geographic Code Type") in found  # MSOA: not commintel's geography


def test_repeated_identifiers_in_a_file_and_across_files_are_refused(over_bristol):
    importer.import_grants((DATA / "valid.csv").read_bytes(), "valid.csv", over_bristol, None)
    db.session.commit()
    again = (DATA / "valid.csv").read_text().splitlines()
    data = "\n".join([again[0], again[1], again[1].replace("360G-TEST-0001", "360G-TEST-NEW")]).encode()
    with pytest.raises(importer.GrantImportRejected) as caught:
        importer.import_grants(data, "again.csv", over_bristol, None)
    db.session.rollback()
    assert [p.problem for p in caught.value.report.problems if p.row == "Row 2"][0].endswith("a grant is stored once")
    assert stored() == 3
    twice = "\n".join([again[0], again[2], again[2]]).encode().replace(b"360G-TEST-0002", b"360G-TEST-0009")
    with pytest.raises(importer.GrantImportRejected) as caught:
        importer.import_grants(twice, "twice.csv", over_bristol, None)
    assert "also the identifier on Row 2" in caught.value.report.problems[0].problem


def test_a_grant_without_location_is_placed_by_the_recipients_postcode(over_bristol):
    rows = (DATA / "valid.csv").read_text().splitlines()
    header = rows[0].replace("Recipient Org:Name", "Recipient Org:Name,Recipient Org:Postal Code")
    row = rows[1].replace("Lawrence Hill Food Share", "Lawrence Hill Food Share,bs5 0he").replace(LAWRENCE_HILL, "")
    data = f"{header}\n{row}\n".encode()
    report = rejected(data, "postcode.csv", over_bristol)  # no postcodes loaded: said so
    assert "no postcodes are loaded" in report.problems[0].problem
    db.session.add(Postcode(postcode="BS5 0HE", lsoa_id=area(FILWOOD_LSOA).id))
    db.session.commit()
    importer.import_grants(data, "postcode.csv", over_bristol, None)
    place = db.session.scalar(select(GrantPlace))
    assert (place.area_id, place.placed_by) == (area(FILWOOD_LSOA).id, "recipient postcode")


# Hostile files -------------------------------------------------------------------------------------------------------


def test_hostile_files_are_refused_with_a_message(over_bristol):
    for data, name, words in (
        (b"PK\x03\x04not really a zip", "grants.xlsx", "cannot be read"),
        (b"\x00\x01binary", "grants.csv", "binary"),
        (b'{"grants": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "deep.json", "not JSON"),
        (b'{"grants": []}', "empty.json", "empty"),
        (b"[1, 2]", "list.json", '{"grants": [...]}'),
        (b"a,b\n1,2\n", "other.csv", "No column of this file has a title of the 360Giving"),
        (b"x", "grants.pdf", ".csv, .xlsx or .json"),
    ):
        with pytest.raises(standard.GrantFileError) as caught:
            importer.import_grants(data, name, over_bristol, None)
        assert words in caught.value.message, (name, caught.value.message)
    assert stored() == 0


def test_grants_of_the_wrong_shape_are_reported_not_a_crash(over_bristol):
    package = {"grants": ["not a grant", {"id": "X", "beneficiaryLocation": 7, "recipientOrganization": "Org"}]}
    report = rejected(json.dumps(package).encode(), "shapes.json", over_bristol)
    found = problems(report)
    assert ("Grant 1", "Grant") in found
    assert ("Grant 2", "Beneficiary Location") in found
    assert ("Grant 2", "Recipient Org") in found


def test_a_huge_file_is_refused_before_any_grant_is_checked(over_bristol, monkeypatch):
    header = (DATA / "valid.csv").read_text().splitlines()[0]
    row = (DATA / "valid.csv").read_text().splitlines()[1]
    body = "\n".join([header] + [row.replace("0001", f"{i:06d}") for i in range(standard.MAX_GRANTS + 1)])
    checked = []
    monkeypatch.setattr(importer, "check", lambda *a: checked.append(1))
    with pytest.raises(standard.GrantFileError, match="more than 20,000 grants"):
        importer.import_grants(body.encode(), "huge.csv", over_bristol, None)
    assert checked == []
    assert stored() == 0


def test_an_xlsx_dimension_bomb_is_refused(over_bristol):
    import zipfile

    book = Workbook()
    book.active.append(["Identifier"])
    out = io.BytesIO()
    book.save(out)
    bomb = io.BytesIO()
    with zipfile.ZipFile(out) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</sheetData>", b'<row r="1048577"><c r="A1048577"><v>1</v></c></row></sheetData>')
            dst.writestr(item, data)
    with pytest.raises(standard.GrantFileError):
        importer.import_grants(bomb.getvalue(), "bomb.xlsx", over_bristol, None)
    assert stored() == 0


def test_formula_like_names_are_shown_as_text_and_exported_safely(over_bristol, client_for):
    rows = (DATA / "valid.csv").read_text().splitlines()
    hostile = rows[1].replace("Lawrence Hill Food Share", '"=HYPERLINK(""http://evil.example"",""x"")"')
    hostile = hostile.replace("Food parcels", "@SUM(1+1)<script>alert(1)</script>")
    importer.import_grants(f"{rows[0]}\n{hostile}\n".encode(), "hostile.csv", over_bristol, None)
    db.session.commit()
    grant = db.session.scalar(select(Grant))
    assert grant.recipient_name.startswith("=HYPERLINK")  # stored as given: it is the publisher's data
    exported = client_for("convenor").get(f"/grants/export.csv?partnership={over_bristol.slug}&months=all")
    assert exported.status_code == 200
    table = list(csv.reader(io.StringIO(exported.get_data(as_text=True))))
    grant_row = next(r for r in table if r and r[0] == "360G-TEST-0001")
    assert grant_row[1].startswith("'@SUM")
    assert grant_row[3].startswith("'=HYPERLINK")
    page = client_for("convenor").get(f"/grants/?partnership={over_bristol.slug}&months=all").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page


# Per head and per observation: a hand-computed example --------------------------------------------------------------


def _population(values: dict[str, float]) -> None:
    dataset = IndicatorDataset(title="Population estimates (test)", release_key="population-test",
                               release_date=date(2024, 6, 1))  # fmt: skip
    indicator = Indicator(dataset=dataset, name="Population (mid-2023)", value_kind=ValueKind.COUNT,
                          level=area(LAWRENCE_HILL).level, key="population")  # fmt: skip
    db.session.add_all([dataset, indicator])
    for code, value in values.items():
        db.session.add(IndicatorValue(indicator=indicator, area_id=area(code).id, period_key="2023",
                                      period_kind=PeriodKind.YEAR, period_start=date(2023, 1, 1),
                                      period_end=date(2023, 12, 31), value=value))  # fmt: skip


def _observe(world, partnership, code: str, keys: list[int], level=disclosure.SharingLevel.PARTNERSHIP) -> None:
    from submissions.models import Category, Observation, ObservationKind, ObservationStatus
    from submissions.operations import ensure_default_categories

    ensure_default_categories()
    food = db.session.scalar(select(Category).where(Category.slug == "food"))
    for key in keys:
        db.session.add(Observation(
            organisation_id=world["org"].id, partnership_id=partnership.id, kind=ObservationKind.NEED,
            category_id=food.id, text="Families ask for food", redacted_text="Families ask for food",
            area_id=area(code).id, period_start=date.today() - timedelta(days=20),
            status=ObservationStatus.SUBMITTED, sharing_level=level, record_key=key,
        ))  # fmt: skip


def _twelve_unperturbed_keys() -> list[int]:
    """Record keys of 12 observations whose cell the shipped table leaves at 12 (perturbation 0)."""
    key = next(ck for ck in range(256) if disclosure.table().perturbation(12, ck) == 0)
    return [0] * 11 + [key]


@pytest.fixture
def hand_example(over_bristol, world):
    """Lawrence Hill: £30,000 + half of £10,000 = £35,000, 20,000 residents, 12 observations shown as 12.
    Clifton: £5,000 (an LSOA in it) + half of £10,000 = £10,000, 10,000 residents, 3 observations.
    The whole authority: £8,000, not shared out."""
    from webapp.operations import accept_agreement, publish_agreement

    partnership = over_bristol
    agreement = publish_agreement(partnership, "We share observations at partnership level.", None)
    accept_agreement(agreement, world["org"], world["users"]["org_admin"])
    recent = (date.today() - timedelta(days=30)).isoformat()
    header = ("Identifier,Title,Description,Currency,Amount Awarded,Award Date,Recipient Org:Identifier,"
              "Recipient Org:Name,Beneficiary Location:0:Geographic Code,Beneficiary Location:1:Geographic Code,"
              "Funding Org:Identifier,Funding Org:Name")  # fmt: skip
    rows = [
        f"H1,One,Test,GBP,30000,{recent},XI-A,A,{LAWRENCE_HILL},,XI-F,Fund",
        f"H2,Two,Test,GBP,5000,{recent},XI-B,B,{CLIFTON_LSOA},,XI-F,Fund",
        f"H3,Three,Test,GBP,10000,{recent},XI-C,C,{LAWRENCE_HILL},{CLIFTON},XI-F,Fund",
        f"H4,Four,Test,GBP,8000,{recent},XI-D,D,{BRISTOL},,XI-F,Fund",
        f"H5,Old,Test,GBP,99999,{(date.today() - timedelta(days=800)).isoformat()},XI-E,E,{CLIFTON},,XI-F,Fund",
    ]
    importer.import_grants("\n".join([header, *rows]).encode(), "hand.csv", partnership, None)
    _population({LAWRENCE_HILL: 20000, CLIFTON: 10000})
    _observe(world, partnership, LAWRENCE_HILL, _twelve_unperturbed_keys())
    _observe(world, partnership, CLIFTON, [1, 2, 3])
    db.session.commit()
    return partnership


def test_funding_per_head_and_per_observation_by_hand(hand_example):
    wards = [area(LAWRENCE_HILL), area(CLIFTON)]
    since = date.today() - timedelta(days=365)
    result = need.beside_need(hand_example, disclosure.Audience.PARTNERSHIP, wards, since)
    rows = {r.ward.code: r for r in result.rows}
    lh, clifton = rows[LAWRENCE_HILL], rows[CLIFTON]
    assert (lh.pence, clifton.pence, result.authority_pence) == (3_500_000, 1_000_000, 800_000)  # H5 is too old
    assert (lh.population, clifton.population) == (20000, 10000)
    assert lh.per_head == 175.0
    assert clifton.per_head == 100.0
    assert str(lh.observations) == "12"
    assert lh.per_observation == pytest.approx(3_500_000 / 12)  # £2,916.67
    assert str(clifton.observations) == "fewer than 5"
    assert clifton.per_observation is None
    assert result.total_pence == 5_300_000
    assert importer.amount_text(lh.per_observation) == "£2,917"
    # Funders count only what is shared with funders: none here, so nothing to divide by.
    funders = need.beside_need(hand_example, disclosure.Audience.FUNDERS, wards, since)
    assert all(r.per_observation is None for r in funders.rows)


def test_the_page_shows_the_hand_computed_figures_and_the_rule(hand_example, client_for):
    page = client_for("convenor").get(f"/grants/?partnership={hand_example.slug}").get_data(as_text=True)
    assert "£35,000" in page
    assert "£1.75" in page
    assert "£2,917" in page
    assert "not enough observations" in page  # Clifton: fewer than k shown
    assert "High need, low recorded funding: a ward where at least 30%" in page
    assert "£8,000 was for the whole local authority" in page
    assert disclosure.method_note() in page
    funder = client_for("funder").get(f"/grants/?partnership={hand_example.slug}").get_data(as_text=True)
    assert "£35,000" in funder
    assert "£2,917" not in funder


def test_the_rule_flags_deprived_wards_with_none_or_low_funding():
    flags, median = need.low_funding([(0, 100.0), (1000, 100.0), (400, 100.0), (5000, None)], per_head=True)
    assert median == 4.0
    assert flags == [True, False, False, False]
    flags, median = need.low_funding([(100, None), (1000, None), (2000, None)], per_head=False)
    assert median == 1000
    assert flags == [True, False, False]
    ward = Area(code="E05000000", name="W", level=area_level_ward())
    row = need.WardGrants(ward, 0, 0, None, disclosure.Released(disclosure.State.ZERO, 0, 5), share=0.5,
                          low_funding=True)  # fmt: skip
    assert row.flagged
    row.share = 0.2
    assert not row.flagged


def area_level_ward():
    from webapp.models import AreaLevel

    return AreaLevel.WARD


# Who may read and import ---------------------------------------------------------------------------------------------


def test_who_may_read_and_import(over_bristol, world, client_for, app, make_org, make_user):
    slug = over_bristol.slug
    for role in ("convenor", "funder", "admin"):
        assert client_for(role).get(f"/grants/?partnership={slug}").status_code == 200, role
    for role in ("member", "org_admin", "resident"):
        assert client_for(role).get(f"/grants/?partnership={slug}").status_code == 403, role
    assert client_for("funder").get("/grants/import").status_code == 403
    # A funder of another partnership, and a convenor of another: this partnership is not theirs (404).
    other_fund = make_org("Other Fund", OrgKind.FUNDER)
    outsider_funder = make_user("funder", other_fund)
    other_convenor = make_user("convenor")
    webapp_ops.create_partnership("Other", "other", funders=[other_fund], convenors=[other_convenor])
    db.session.commit()
    for user in (outsider_funder, other_convenor):
        c = sign_in(app.test_client(), user)
        assert c.get(f"/grants/?partnership={slug}").status_code == 404
        assert c.get(f"/grants/export.csv?partnership={slug}").status_code == 404
        assert c.get("/grants/?partnership=other").status_code == 200
    unfunded = sign_in(app.test_client(), make_user("funder", make_org("Fund of nothing", OrgKind.FUNDER)))
    page = unfunded.get("/grants/")
    assert page.status_code == 200
    assert "There are\n  none yet" in page.get_data(as_text=True)
    c = sign_in(app.test_client(), other_convenor)
    response = c.post("/grants/import", data={"partnership": slug, "file": (io.BytesIO(b"x"), "g.csv")},
                      content_type="multipart/form-data")  # fmt: skip
    assert response.status_code == 422
    assert stored() == 0


def test_importing_through_the_page(over_bristol, client_for):
    convenor = client_for("convenor")
    bad = convenor.post("/grants/import", data={"partnership": over_bristol.slug,
                                                "file": ((DATA / "invalid.csv").open("rb"), "invalid.csv")},
                        content_type="multipart/form-data")  # fmt: skip
    page = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "Nothing was stored" in page
    assert "Row 3" in page
    assert "is text, not a number" in page
    assert stored() == 0
    good = convenor.post("/grants/import", data={"partnership": over_bristol.slug,
                                                 "file": ((DATA / "valid.json").open("rb"), "valid.json")},
                         content_type="multipart/form-data")  # fmt: skip
    assert good.status_code == 302
    assert stored() == 2
    listed = convenor.get(good.headers["Location"]).get_data(as_text=True)
    assert "2 grants imported from valid.json" in listed
    assert "Lawrence Hill" in listed
    grant_file = db.session.scalar(select(GrantFile))
    assert client_for("funder").post(f"/grants/files/{grant_file.id}/remove").status_code == 403
    removed = convenor.post(f"/grants/files/{grant_file.id}/remove", data={})
    assert removed.status_code == 302
    assert stored() == 0


def test_the_command_line_import_stores_all_or_prints_every_problem(over_bristol, app):
    from indicators.grants.cli import grants_cli

    runner = app.test_cli_runner()
    bad = runner.invoke(grants_cli, ["import", over_bristol.slug, str(DATA / "invalid.csv")])
    assert bad.exit_code == 1
    assert "Row 3: Amount Awarded:" in bad.output
    assert "Nothing was stored" in bad.output
    assert stored() == 0
    good = runner.invoke(grants_cli, ["import", over_bristol.slug, str(DATA / "valid.csv")])
    assert good.exit_code == 0, good.output
    assert "3 grants imported from valid.csv" in good.output
    assert stored() == 3
    assert runner.invoke(grants_cli, ["import", "no-such", str(DATA / "valid.csv")]).exit_code == 1
