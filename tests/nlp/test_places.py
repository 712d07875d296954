"""Place detection against Bristol's wards and neighbourhood names, and the suggested area."""

from __future__ import annotations

from nlp.redaction.places import Gazetteer, PlaceMention, detect_places, normalise, suggest_area
from tests.nlp.redaction_support import bristol_gazetteer, redactor

# The 2019 ward codes, from the ONS lookup in webapp/demo_data.
LAWRENCE_HILL = bristol_gazetteer().code_for("Lawrence Hill")
EASTON = bristol_gazetteer().code_for("Easton")
ASHLEY = bristol_gazetteer().code_for("Ashley")


def codes(text: str) -> list[str]:
    return [m.area_code for m in detect_places(text, bristol_gazetteer())]


def test_wards_their_parts_and_neighbourhoods_are_found():
    g = bristol_gazetteer()
    assert LAWRENCE_HILL.startswith("E05")
    assert len({LAWRENCE_HILL, EASTON, ASHLEY}) == 3
    assert codes("Families in Lawrence Hill and Barton Hill") == [LAWRENCE_HILL, LAWRENCE_HILL]
    assert codes("Kids in Withywood") == [g.code_for("Hartcliffe and Withywood")]
    assert codes("St Paul's carnival, St. Pauls again, Saint Pauls") == [ASHLEY] * 3


def test_everyday_words_are_not_places_unless_capitalised():
    assert codes("the central heating is broken") == []
    assert codes("people in Central ward") == [bristol_gazetteer().code_for("Central")]


def test_spacy_place_entities_are_matched_against_the_gazetteer():
    g = Gazetteer({"Easton": EASTON})
    text = "We met in the Easton area"
    found = detect_places("Upper Easton event", g, [(0, 12, "GPE")])
    assert [m.area_code for m in found] == [EASTON]
    assert detect_places(text, g, [(14, 25, "PERSON")])[0].area_code == EASTON
    assert normalise("the St. Paul's Ward") == "st pauls"


def test_suggestion_is_the_most_mentioned_area_then_the_first():
    m = lambda code, i: PlaceMention(i, i + 1, "x", code)  # noqa: E731
    assert suggest_area([]) is None
    assert suggest_area([m(EASTON, 0), m(ASHLEY, 5), m(ASHLEY, 9)]) == ASHLEY
    assert suggest_area([m(EASTON, 0), m(ASHLEY, 5)]) == EASTON


def test_redaction_reports_places_it_kept():
    result = redactor().redact("Mrs Patel from Lawrence Hill said Easton is worse, and Lawrence Hill too.")
    assert suggest_area(result.places) == LAWRENCE_HILL
    assert result.text == "[NAME] from Lawrence Hill said Easton is worse, and Lawrence Hill too."


def test_no_gazetteer_no_places():
    assert detect_places("Lawrence Hill", Gazetteer({})) == []
