"""Web pages: the form (input kept, errors by the field, escaping), list, edit, withdraw, erase, moderation,
export, import steps, tokens and categories."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import func, select

from submissions.models import ApiToken, Category, Observation, ObservationStatus
from tests.submissions.conftest import valid_data
from webapp.extensions import db


def _count(**where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Observation).filter_by(**where))


def _form(**overrides):
    data = valid_data(**overrides)
    data["consent_to_quote"] = "y" if data.pop("consent_to_quote") else ""
    return data


def test_form_page_offers_searchable_areas_without_javascript(sharing_world, client_for):
    page = client_for("member").get("/observations/new").get_data(as_text=True)
    assert '<datalist id="area-options">' in page
    assert 'list="area-options"' in page
    assert "Lawrence Hill (E05010897)" in page
    # Scripts only draw the optional map (inside a closed <details>, the typed field needs none); none inline.
    scripts = re.findall(r"<script[^>]*>", page)
    assert scripts
    assert all(re.fullmatch(r'<script src="/static/[^"]+\.js">', s) for s in scripts), scripts
    assert '<details class="area-map">' in page
    assert 'data-map-src="/areas/choose-map.json?partnership=test-partnership"' in page


def test_the_map_to_choose_a_ward_is_boundaries_only(sharing_world, client_for, areas):
    import json

    square = {"type": "Polygon", "coordinates": [[[-2.6, 51.4], [-2.5, 51.4], [-2.5, 51.5], [-2.6, 51.4]]]}
    for ward in ("ashley", "abbey"):
        areas[ward].boundary = json.dumps(square)
    db.session.commit()
    spec = client_for("member").get("/areas/choose-map.json?partnership=test-partnership").get_json()
    features = spec["datasets"]["areas"]
    # The partnership's wards that have a boundary (Abbey is in Bath, outside it); no figure rides along.
    assert [(f["properties"]["code"], f["properties"]["name"]) for f in features] == [("E05010885", "Ashley")]
    assert all(f["properties"]["value"] is None for f in features)


def test_submitting_the_form(sharing_world, client_for):
    response = client_for("member").post("/observations/new", data=_form())
    assert response.status_code == 302
    assert _count(organisation_id=sharing_world["org"].id) == 1


def test_bad_input_is_kept_and_each_error_sits_by_its_field(sharing_world, client_for):
    text = "short"
    response = client_for("member").post(
        "/observations/new", data=_form(text=text, area="Narnia", people_affected="-5", period="2999-01")
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert _count() == 0
    assert 'id="text-error"' in page
    assert 'id="area-error"' in page
    assert 'id="people_affected-error"' in page
    assert 'id="period-error"' in page
    assert "Unknown area" in page
    assert 'value="Narnia"' in page  # input kept
    assert 'value="-5"' in page
    assert "short</textarea>" in page


def test_script_in_text_is_stored_as_text_and_escaped(sharing_world, client_for):
    c = client_for("member")
    text = "<script>alert('boo')</script> Families queue in the rain."
    c.post("/observations/new", data=_form(text=text))
    obs = db.session.scalar(select(Observation))
    assert obs.text == text
    page = c.get(f"/observations/{obs.id}").get_data(as_text=True)
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#39;boo&#39;)&lt;/script&gt;" in page


def test_residents_submit_for_moderation(sharing_world, client_for):
    sharing_world["partnership"].public_form_enabled = True
    db.session.commit()
    c = client_for("resident")
    assert c.get("/observations/new").status_code == 200
    response = c.post("/observations/new", data=_form(partnership=sharing_world["partnership"].slug))
    assert response.status_code == 302
    assert _count(status=ObservationStatus.NEEDS_MODERATION) == 1


def test_list_filters_and_pagination(sharing_world, make_observation, client_for):
    for i in range(30):
        make_observation(text=f"Observation number {i} about food in Ashley.", period=f"2024-{i % 12 + 1:02d}")
    make_observation(text="An asset in Lawrence Hill: the community fridge.", kind="asset", area="Lawrence Hill",
                     category="community-activities-and-assets")  # fmt: skip
    c = client_for("member")
    first = c.get("/observations/").get_data(as_text=True)
    assert "31 observations" in first
    assert "Page 1 of 2" in first
    assert "Page 2 of 2" in c.get("/observations/?page=2").get_data(as_text=True)
    assert "1 observation match" in c.get("/observations/?kind=asset").get_data(as_text=True)
    assert "1 observation match" in c.get("/observations/?area=E05010897").get_data(as_text=True)
    assert "30 observations match" in c.get("/observations/?category=food").get_data(as_text=True)
    assert "3 observations match" in c.get("/observations/?from=2024-03&to=2024-03").get_data(as_text=True)
    assert "0 observations match" in c.get("/observations/?status=withdrawn").get_data(as_text=True)
    make_observation(text="Kept inside our organisation: the volunteer rota is short.", sharing_level="org_only")
    assert "1 observation match" in c.get("/observations/?sharing_level=org_only").get_data(as_text=True)
    assert "31 observations match" in c.get("/observations/?sharing_level=partnership").get_data(as_text=True)
    assert c.get("/observations/?page=99&kind=bogus&from=garbage").status_code == 200


def test_partners_see_redacted_text_only(sharing_world, make_observation, make_user, app):
    from tests.conftest import sign_in

    obs = make_observation(text="Jo Bloggs on 07700 900123 cannot afford the gas meter top-up.")
    obs.redacted_text = "[NAME] on [PHONE] cannot afford the gas meter top-up."
    db.session.commit()
    partner = make_user("member", sharing_world["other_org"])
    c = sign_in(app.test_client(), partner)
    page = c.get(f"/observations/{obs.id}").get_data(as_text=True)
    assert "[NAME] on [PHONE]" in page
    assert "07700" not in page
    assert "07700" not in c.get("/observations/").get_data(as_text=True)


def test_edit_and_withdraw_own(sharing_world, make_observation, client_for):
    obs = make_observation()
    c = client_for("member")
    page = c.get(f"/observations/{obs.id}/edit").get_data(as_text=True)
    assert obs.text in page
    response = c.post(f"/observations/{obs.id}/edit", data=_form(text="Updated: now forty families each week."))
    assert response.status_code == 302
    assert db.session.get(Observation, obs.id).text == "Updated: now forty families each week."
    assert c.post(f"/observations/{obs.id}/edit", data=_form(text="tiny")).status_code == 422
    assert c.post(f"/observations/{obs.id}/withdraw").status_code == 302
    assert db.session.get(Observation, obs.id).status is ObservationStatus.WITHDRAWN


def test_others_cannot_edit_withdraw_or_erase(sharing_world, make_observation, make_user, app):
    from tests.conftest import sign_in

    obs = make_observation()
    partner = sign_in(app.test_client(), make_user("org_admin", sharing_world["other_org"]))
    assert partner.get(f"/observations/{obs.id}/edit").status_code == 404
    assert partner.post(f"/observations/{obs.id}/withdraw").status_code == 404
    assert partner.post(f"/observations/{obs.id}/erase", data={"confirm": "y"}).status_code == 404
    assert _count() == 1


def test_erase_needs_confirmation(sharing_world, make_observation, client_for):
    obs = make_observation()
    c = client_for("org_admin")
    assert c.post(f"/observations/{obs.id}/erase", data={}).status_code == 422
    assert _count() == 1
    assert c.post(f"/observations/{obs.id}/erase", data={"confirm": "y"}).status_code == 302
    assert _count() == 0


def test_moderation_queue(sharing_world, client_for):
    from submissions import operations as submission_ops

    p = sharing_world["partnership"]
    first = submission_ops.submit_observation(valid_data(), organisation=None, author=None, partnership=p)
    second = submission_ops.submit_observation(
        valid_data(text="Another resident message."), organisation=None, author=None, partnership=p
    )
    db.session.commit()
    ids = (first.id, second.id)
    c = client_for("convenor")
    page = c.get("/observations/moderation").get_data(as_text=True)
    assert "Another resident message." in page
    assert c.post(f"/observations/{ids[0]}/moderate", data={"action": "approve"}).status_code == 302
    response = c.post(
        f"/observations/{ids[1]}/moderate", data={"action": "reject", "reason": ""}, follow_redirects=True
    )
    assert "Give a reason" in response.get_data(as_text=True)
    c.post(f"/observations/{ids[1]}/moderate", data={"action": "reject", "reason": "Names a neighbour."})
    assert db.session.get(Observation, ids[0]).status is ObservationStatus.APPROVED
    assert db.session.get(Observation, ids[1]).status is ObservationStatus.REJECTED
    assert client_for("member").post(f"/observations/{ids[0]}/moderate", data={"action": "approve"}).status_code == 403


def test_export_csv(sharing_world, make_observation, client_for):
    make_observation(text="=cmd|' /C calc'!A0 is what someone typed into our form.")
    response = client_for("member").get("/observations/export.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    body = response.get_data(as_text=True).lstrip("\ufeff")
    row = next(csv.DictReader(io.StringIO(body)))
    assert row["text"].startswith("'=cmd")


def _upload(c, data: bytes, name: str, **extra):
    return c.post("/observations/import", data={"file": (io.BytesIO(data), name), **extra},
                  content_type="multipart/form-data")  # fmt: skip


CSV = (
    b"Ref,Date,Ward,Kind,Category,Notes\n"
    b"W1,2025-01-10,Ashley,need,food,Food parcels ran out by Wednesday this week.\n"
    b"W2,2025-01,Narnia,need,food,An area that does not exist in Bristol.\n"
    b"W3,2025-02,Lawrence Hill,asset,community-activities-and-assets,Free breakfast club at the school.\n"
)


def test_import_through_the_web(sharing_world, client_for):
    c = client_for("member")
    response = _upload(c, CSV, "data.csv")
    assert response.status_code == 302
    mapping_url = response.headers["Location"]
    page = c.get(mapping_url).get_data(as_text=True)
    assert '<option value="Notes" selected>' in page  # guessed from the header
    form = {f"map-{k}": v for k, v in {"external_ref": "Ref", "period": "Date", "area": "Ward", "kind": "Kind",
                                         "category": "Category", "text": "Notes"}.items()}  # fmt: skip
    response = c.post(mapping_url, data=form)
    assert response.status_code == 302
    preview_url = response.headers["Location"]
    page = c.get(preview_url).get_data(as_text=True)
    assert "<td>3</td><td>Ward</td><td>Unknown area &#39;Narnia&#39;" in page
    # The button says what it does (before: "Import 2 rows" imported nothing unless a box was ticked).
    assert "Import the 2 valid rows and skip 1</button>" in page
    assert _count() == 0  # nothing before the confirmation
    response = c.post(preview_url, data={})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Imported 2 observations" in page
    assert _count() == 2
    skipped_url = preview_url.replace("/preview", "/skipped.csv")
    skipped = c.get(skipped_url).get_data(as_text=True).lstrip("\ufeff")
    assert "Narnia" in skipped
    assert "Unknown area" in skipped
    assert c.get(preview_url).status_code == 404  # the upload is used up
    assert client_for("org_admin").get(skipped_url).status_code == 404  # someone else's upload


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_the_import_template_goes_back_in_as_it_is(sharing_world, client_for, fmt):
    """The downloaded file, uploaded unchanged: every column is matched without choosing and its example row passes."""
    from submissions import importer, spreadsheets

    c = client_for("member")
    upload_page = c.get("/observations/import").get_data(as_text=True)
    assert f"/observations/import/template.{fmt}?organisation=" in upload_page
    template = c.get(f"/observations/import/template.{fmt}")
    assert template.status_code == 200
    assert "attachment" in template.headers["Content-Disposition"]
    table = spreadsheets.read_table(template.data, f"template.{fmt}")
    assert table.headers
    assert len(table.rows) == 1
    assert set(importer.guess_mapping(table.headers).values()) == set(table.headers), "a column was not matched"
    response = _upload(c, template.data, f"template.{fmt}")
    assert response.status_code == 302
    response = c.post(response.headers["Location"], data={
        f"map-{name}": header for name, header in importer.guess_mapping(table.headers).items()
    })  # fmt: skip
    assert response.status_code == 302, response.get_data(as_text=True)
    page = c.get(response.headers["Location"]).get_data(as_text=True)
    assert "<strong>1</strong> row ready to import" in page
    assert "<strong>0</strong> rows with problems" in page
    if fmt == "xlsx":
        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(template.data), read_only=True)
        assert book.sheetnames == ["Observations", "What each column takes"]
        described = {row[0]: row[3] for row in book["What each column takes"].iter_rows(min_row=2, values_only=True)}
        assert "Food" in described["Category"]
        assert "partnership" in described["Who may see it"]
    assert client_for("funder").get(f"/observations/import/template.{fmt}").status_code == 403


def test_import_refuses_bad_files_with_a_message(sharing_world, client_for):
    c = client_for("member")
    for data, name, words in [
        (b"", "empty.csv", "empty"),
        (b"x", "photo.png", "CSV or XLSX"),
        (b"A,a\n1,2\n", "dupes.csv", "more than once"),
    ]:
        response = _upload(c, data, name)
        assert response.status_code == 422
        assert words in response.get_data(as_text=True)


def test_oversized_upload_gets_the_413_page(sharing_world, client_for, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 2048)
    response = _upload(client_for("member"), b"Notes\n" + b"x" * 4096, "big.csv")
    assert response.status_code == 413
    assert "too large" in response.get_data(as_text=True)
    assert _count() == 0


def test_tokens_page_shows_the_token_once(sharing_world, client_for):
    c = client_for("org_admin")
    page = c.post("/observations/api-tokens", data={"name": "Case system"}).get_data(as_text=True)
    token = db.session.scalar(select(ApiToken))
    assert "shown only once" in page
    raw = page.split('<code class="token">')[1].split("</code>")[0]
    assert raw.startswith(token.prefix)
    later = c.get("/observations/api-tokens").get_data(as_text=True)
    assert raw not in later
    assert "Never" in later
    assert c.post(f"/observations/api-tokens/{token.id}/revoke").status_code == 302
    db.session.expire_all()
    assert db.session.get(ApiToken, token.id).revoked_at is not None


def test_admins_add_categories(sharing_world, client_for):
    c = client_for("admin")
    assert c.post("/observations/categories/new", data={"name": "Digital exclusion"}).status_code == 302
    assert db.session.scalar(select(Category).where(Category.slug == "digital-exclusion")) is not None
    assert c.post("/observations/categories/new", data={"name": "digital exclusion"}).status_code == 422
    assert "Digital exclusion" in client_for("member").get("/observations/categories").get_data(as_text=True)


def test_funders_never_reach_observations(sharing_world, make_observation, client_for):
    obs = make_observation(sharing_level="funders_aggregate")
    c = client_for("funder")
    assert c.get("/observations/").status_code == 403
    assert c.get(f"/observations/{obs.id}").status_code == 403


def test_confirm_suggested_area_from_the_page(sharing_world, make_observation, client_for):
    obs = make_observation(area="")
    obs.suggested_area_id = sharing_world["areas"]["ashley"].id
    db.session.commit()
    c = client_for("member")
    assert "Confirm Ashley as the area" in c.get(f"/observations/{obs.id}").get_data(as_text=True)
    assert c.post(f"/observations/{obs.id}/confirm-area").status_code == 302
    assert db.session.get(Observation, obs.id).area_id == sharing_world["areas"]["ashley"].id


def test_admins_erase_residents_observations(sharing_world, client_for):
    from submissions import operations as submission_ops

    obs = submission_ops.submit_observation(
        valid_data(), organisation=None, author=None, partnership=sharing_world["partnership"]
    )
    db.session.commit()
    assert client_for("org_admin").post(f"/observations/{obs.id}/erase", data={"confirm": "y"}).status_code == 404
    assert client_for("admin").post(f"/observations/{obs.id}/erase", data={"confirm": "y"}).status_code == 302
    assert _count() == 0


def test_a_web_import_failing_half_way_stores_nothing(sharing_world, client_for, monkeypatch, app):
    from submissions import operations as submission_ops

    rows = "".join(f"H{i},2025-01-01,Ashley,need,food,Row {i} of a file that breaks half way.\n" for i in range(1500))
    c = client_for("member")
    mapping_url = _upload(c, b"Ref,Date,Ward,Kind,Category,Notes\n" + rows.encode(), "half.csv").headers["Location"]
    preview_url = c.post(mapping_url, data={"map-text": "Notes", "map-kind": "Kind", "map-category": "Category",
                                            "map-external_ref": "Ref"}).headers["Location"]  # fmt: skip
    original, calls = submission_ops._new, {"n": 0}

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1200:  # after the first 1 000 rows were flushed
            raise RuntimeError("connection lost")
        return original(*args, **kwargs)

    monkeypatch.setattr(submission_ops, "_new", failing)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    response = c.post(preview_url, data={})
    assert response.status_code == 500
    assert calls["n"] == 1200
    assert _count() == 0
