"""Redaction of the names a Bristol food share really writes down (issue 11), the new shapes, over-redaction, and a
regression guard on the hard evaluation set's holdout half (tests/data/redaction_hard.jsonl).

Every case here is from the issue itself (the tuning half of the hard set holds them too); the holdout half is only
scored, in aggregate."""

from __future__ import annotations

import pytest

from nlp.redaction.evaluation import load_eval, score
from nlp.redaction.spans import STRUCTURED
from tests.nlp.redaction_support import ROOT, redactor

HARD = ROOT / "tests" / "data" / "redaction_hard.jsonl"


def redact(text: str) -> str:
    return redactor().redact(text).text


@pytest.mark.parametrize(
    "name", ["Keisha", "Lowri", "Marcel", "Tatenda", "Sibusiso", "Temitope", "Ruairi", "Padraig", "Xiaoling", "Aoife"]
)
@pytest.mark.parametrize(
    "template",
    [
        "Thanks to {} for driving the van round Hartcliffe again.",
        "{}'s kids have had no hot meal since the electric went off.",
        "My neighbour {} has not been out since her fall.",
        "Had a long chat with {}, who cares for her mum in Southmead.",
    ],
)
def test_names_of_many_heritages_are_redacted(name, template):
    out = redact(template.format(name))
    assert name not in out
    assert "[NAME]" in out


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Thanks to Dazza for the van.", "Dazza"),
        ("Tel dropped off twenty loaves at closing time.", "Tel"),
        ("Me and Jonesy did the Lawrence Hill round.", "Jonesy"),
        ("Smudge dropped off the donations from Tesco.", "Smudge"),
        ("Please pass on thanks to Macca, the van is running again.", "Macca"),
        ("asked kev if he could do Tuesday", "kev"),
        ("me and shaz sorted the parcels", "shaz"),
        ("big thanks to tel and the lads for shifting the donations", "tel"),
        ("Will came in again today, she is sleeping on a friend's sofa.", "Will"),
        ("Thanks to Joy for covering the Tuesday shift.", "Joy"),
        ("Patience's kids were at the breakfast club on Monday.", "Patience"),
        ("Gave Rose a lift to the jobcentre after her shift.", "Rose"),
        ("Our volunteer Sky knows everyone on the estate.", "Sky"),
    ],
)
def test_nicknames_lower_case_names_and_names_that_are_words_are_redacted(text, name):
    out = redact(text)
    assert name not in out.replace("[NAME]", "")
    assert "[NAME]" in out


@pytest.mark.parametrize(
    "text",
    [
        "Will do, see you Tuesday.",
        "Hope is in short supply round here this winter.",
        "We will need more volunteers for the Friday shift.",
        "The rose garden at the community centre needs weeding.",
        "Patience is wearing thin with the landlord.",
        "The gas bill doubled and people mark the date on the calendar.",
    ],
)
def test_name_words_used_as_words_are_kept(text):
    assert redact(text) == text


@pytest.mark.parametrize(
    "keep",
    [
        "St Michael's Hospital",
        "Greggs",
        "a Corsa",
        "St Luke's Surgery",
        "Boxing Day",
        "Diwali",
        "the Transit",
        "Poundland",
    ],
)
def test_shops_saint_named_hospitals_car_models_festivals_and_days_are_kept(keep):
    text = f"Three families mentioned {keep} this week, and Easton came up again."
    assert redact(text) == text


@pytest.mark.parametrize(
    ("text", "secret", "placeholder"),
    [
        ("Her insta is shirley.b.bristol if you need her.", "shirley.b.bristol", "[HANDLE]"),
        ("Add dazza_b2010 on snapchat.", "dazza_b2010", "[HANDLE]"),
        ("DM @keishaxo about the cot.", "@keishaxo", "[HANDLE]"),
        ("Her email is sarah dot jones at gmail dot com if you need it.", "sarah dot jones at gmail dot com",
         "[EMAIL]"),
        ("Email kev (at) hotmail (dot) co (dot) uk about the rota.", "kev (at) hotmail (dot) co (dot) uk", "[EMAIL]"),
        ("Car reg WU19 ABX parked across the ramp.", "WU19 ABX", "[VEHICLE_REG]"),
        ("The van was BD51 SMR, silver.", "BD51 SMR", "[VEHICLE_REG]"),
        ("Reported A123 BCD for dumping mattresses.", "A123 BCD", "[VEHICLE_REG]"),
        ("Her ex drives ABC 123D, she wants it noted.", "ABC 123D", "[VEHICLE_REG]"),
    ],
)  # fmt: skip
def test_handles_spelled_out_emails_and_vehicle_registrations(text, secret, placeholder):
    out = redact(text)
    assert secret not in out
    assert placeholder in out


def test_a_registration_is_not_half_a_postcode_and_postcodes_stay_postcodes():
    assert redact("The van was BD51 SMR, silver.") == "The van was [VEHICLE_REG], silver."
    assert redact("She lives in BS16 2QT now.") == "She lives in [POSTCODE] now."
    assert redact("The A38 and M32 were jammed; we shop at tesco.com.") == (
        "The A38 and M32 were jammed; we shop at [URL]."
    )


@pytest.mark.parametrize(
    "text",
    [
        "Send the form.pdf to the office, e.g. by Friday at 10.30.",
        "Gave out 40 parcels in Easton and Lawrence Hill.",
        "Access to GPs in Henbury is ok, CAMHS waits are long, PIP appeals take months.",
    ],
)
def test_ordinary_text_is_not_mistaken_for_handles_or_names(text):
    assert redact(text) == text


def test_the_hard_holdout_meets_the_issue_targets():
    """The figures benchmarks/redaction.py prints for the holdout half never fall below the issue's targets."""
    records = load_eval(HARD, "holdout")
    names = {p["text"] for r in records for p in r["pii"] if p["type"] == "NAME"}
    keeps = sum(len(r["keep"]) for r in records)
    assert len(names) >= 150
    assert keeps >= 200
    results = redactor().redact_many([r["text"] for r in records])
    result = score(records, [[(s.start, s.end) for s in r.spans] for r in results])
    assert result.recall("NAME") >= 0.97, [m for m in result.missed if m[1] == "NAME"][:5]
    for kind in (*STRUCTURED, "HANDLE", "VEHICLE_REG"):
        assert result.recall(kind) >= 0.99, kind
    assert result.kept_share() >= 0.98
