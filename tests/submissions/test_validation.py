"""The one set of rules: every bad input of the issue gets a clear message naming the field."""

from __future__ import annotations

from datetime import date

import pytest

from submissions import operations as submission_ops
from submissions.models import PeriodPrecision, SharingLevel
from submissions.validation import (
    FIELDS,
    Context,
    ValidationFailed,
    json_schema,
    parse_count,
    parse_groups,
    parse_period,
    validate,
)
from tests.submissions.conftest import valid_data
from webapp.extensions import db
from webapp.models import Area, AreaLevel

TODAY = date(2025, 6, 15)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2025-03-14", (date(2025, 3, 14), PeriodPrecision.DAY)),
        ("14/03/2025", (date(2025, 3, 14), PeriodPrecision.DAY)),
        ("2025-03", (date(2025, 3, 1), PeriodPrecision.MONTH)),
        ("03/2025", (date(2025, 3, 1), PeriodPrecision.MONTH)),
        ("March 2025", (date(2025, 3, 1), PeriodPrecision.MONTH)),
        ("Mar 2025", (date(2025, 3, 1), PeriodPrecision.MONTH)),
        (date(2025, 1, 2), (date(2025, 1, 2), PeriodPrecision.DAY)),
        ("", (TODAY, PeriodPrecision.DAY)),
        ("2025-06", (date(2025, 6, 1), PeriodPrecision.MONTH)),  # this month is not the future
    ],
)
def test_periods(raw, expected):
    assert parse_period(raw, TODAY) == expected


@pytest.mark.parametrize("raw", ["2025-06-16", "2025-07", "2030-01-01"])
def test_future_dates_are_refused(raw):
    with pytest.raises(ValueError, match="future"):
        parse_period(raw, TODAY)


@pytest.mark.parametrize("raw", ["yesterday", "2025-13-01", "31/02/2025", "2025/03/01x"])
def test_bad_dates_are_refused(raw):
    with pytest.raises(ValueError, match="not a date"):
        parse_period(raw, TODAY)


@pytest.mark.parametrize(("raw", "expected"), [("12", 12), ("1,200", 1200), (7, 7), (3.0, 3), ("", None), (None, None)])
def test_counts(raw, expected):
    assert parse_count(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("-3", "negative"),
        (-1, "negative"),
        ("lots", "whole number"),
        (2.5, "whole number"),
        (True, "whole number"),
        ("1e9", "whole number"),
    ],
)
def test_bad_counts(raw, message):
    with pytest.raises(ValueError, match=message):
        parse_count(raw)


def test_groups_by_slug_or_label():
    assert parse_groups("Young people; carers, Older people") == ["young_people", "carers", "older_people"]
    assert parse_groups(["lgbtq", "LGBTQ+ people"]) == ["lgbtq"]
    with pytest.raises(ValueError, match="Unknown group"):
        parse_groups("aliens")


def _errors(data, context):
    with pytest.raises(ValidationFailed) as failed:
        validate(data, context)
    return failed.value.errors


@pytest.fixture
def context(sharing_world):
    return submission_ops.context_for(sharing_world["org"])


def test_valid_observation(context, sharing_world):
    clean = validate(valid_data(), context)
    assert clean.area_id == sharing_world["areas"]["ashley"].id
    assert clean.partnership_id == sharing_world["partnership"].id
    assert clean.people_affected == 40
    assert clean.groups == ["families", "children"]


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"text": "too short"}, "text", "too short"),
        ({"text": "x" * 5001}, "text", "too long"),
        ({"text": "   "}, "text", "Describe"),
        ({"area": "Atlantis"}, "area", "Unknown area"),
        ({"area": "E05001947"}, "area", "outside"),
        ({"period": "2999-01-01"}, "period", "future"),
        ({"people_affected": "-4"}, "people_affected", "negative"),
        ({"people_affected": "several"}, "people_affected", "whole number"),
        ({"category": "astrology"}, "category", "Unknown category"),
        ({"category": ""}, "category", "Choose a category"),
        ({"kind": "maybe"}, "kind", "is not one of"),
        ({"kind": None}, "kind", "Choose"),
        ({"sharing_level": "everyone"}, "sharing_level", "is not one of"),
        ({"consent_to_quote": "perhaps"}, "consent_to_quote", "yes or no"),
        ({"external_ref": "r" * 101}, "external_ref", "too long"),
        ({"partnership": "elsewhere"}, "partnership", "not a partnership"),
    ],
)
def test_bad_inputs_name_the_field(context, overrides, field, words):
    errors = _errors(valid_data(**overrides), context)
    assert field in errors
    assert words.lower() in errors[field].lower()


def test_every_bad_field_is_reported_at_once(context):
    errors = _errors(valid_data(text="short", area="Nowhere", people_affected="-1"), context)
    assert set(errors) == {"text", "area", "people_affected"}


def test_area_by_name_code_or_list_entry(context, sharing_world):
    areas = sharing_world["areas"]
    assert validate(valid_data(area="lawrence hill"), context).area_id == areas["lawrence"].id
    assert validate(valid_data(area="Bristol 032A (E01014488)"), context).area_id == areas["lsoa"].id
    assert validate(valid_data(area=""), context).area_id is None  # the whole partnership area


def test_html_is_kept_as_text(context):
    text = "<script>alert('x')</script> people queue outside the hall"
    assert validate(valid_data(text=text), context).text == text


def test_residents_always_share_with_the_partnership(sharing_world):
    context = submission_ops.context_for(None, sharing_world["partnership"])
    clean = validate(valid_data(sharing_level="org_only"), context)
    assert clean.sharing_level is SharingLevel.PARTNERSHIP
    assert clean.partnership_id == sharing_world["partnership"].id
    assert "partnership" in _errors(valid_data(), submission_ops.context_for(None, None))


def test_openapi_schema_comes_from_the_same_fields():
    schema = json_schema()
    assert set(schema["properties"]) == {f.name for f in FIELDS}
    assert set(schema["required"]) == {"kind", "category", "text"}
    assert schema["properties"]["text"]["minLength"] == 10
    assert schema["properties"]["text"]["maxLength"] == 5000


def test_area_accepts_a_neighbourhood_and_stores_its_ward(sharing_world, tmp_path):
    from webapp import geography

    areas = sharing_world["areas"]
    gazetteer = tmp_path / "places.csv"
    gazetteer.write_text(
        f"neighbourhood,ward_code\nBarton Hill,{areas['lawrence'].code}\nSt Pauls,{areas['ashley'].code}\n"
        f"Abbey Green,{areas['abbey'].code}\n"
    )
    geography.load_neighbourhoods(gazetteer)
    context = Context(organisation=sharing_world["org"])
    assert validate(valid_data(area="Barton Hill"), context).area_id == areas["lawrence"].id
    assert validate(valid_data(area="st. paul's"), context).area_id == areas["ashley"].id
    # A ward's own name still wins, and a neighbourhood outside the partnership is refused like a ward would be.
    assert validate(valid_data(area="Lawrence Hill"), context).area_id == areas["lawrence"].id
    with pytest.raises(ValidationFailed) as outside:
        validate(valid_data(area="Abbey Green"), context)
    assert outside.value.errors["area"] == "Abbey is outside Test Partnership's area."
    with pytest.raises(ValidationFailed) as unknown:
        validate(valid_data(area="Barton Hilll"), context)
    assert "Give a neighbourhood, a ward or LSOA name" in unknown.value.errors["area"]


def test_area_accepts_a_loaded_postcode_and_stores_its_lsoa_never_the_postcode(sharing_world, tmp_path):
    from webapp import geography

    areas = sharing_world["areas"]
    context = Context(organisation=sharing_world["org"])
    with pytest.raises(ValidationFailed) as none_loaded:
        validate(valid_data(area="bs5 0he"), context)
    assert none_loaded.value.errors["area"] == (
        "Postcodes cannot be looked up here yet, so BS5 0HE is not known: give the neighbourhood or ward instead."
    )
    directory = tmp_path / "onspd.csv"
    directory.write_text(f"pcd,pcds,lsoa21\nBS5 0HE,BS5 0HE,{areas['lsoa'].code}\nBA1 1AA,BA1 1AA,E01014371\n")
    bath_lsoa = Area(code="E01014371", name="Bath and North East Somerset 010A", level=AreaLevel.LSOA,
                     parent=areas["abbey"])  # fmt: skip
    db.session.add(bath_lsoa)
    db.session.flush()
    geography.load_postcodes(directory)
    context = Context(organisation=sharing_world["org"])
    clean = validate(valid_data(area="bs50he"), context)
    assert clean.area_id == areas["lsoa"].id
    assert "BS5" not in repr(clean.as_columns()), "the postcode itself is not kept"
    with pytest.raises(ValidationFailed) as unknown:
        validate(valid_data(area="BS5 0XX"), context)
    assert unknown.value.errors["area"] == (
        "We do not know the postcode BS5 0XX: check it, or give the neighbourhood or ward instead."
    )
    with pytest.raises(ValidationFailed) as outside:
        validate(valid_data(area="BA1 1AA"), context)
    assert outside.value.errors["area"] == "The postcode BA1 1AA is in Abbey, outside Test Partnership's area."
