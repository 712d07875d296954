"""The quasi-identifier detector: positive and negative examples with the real spaCy model and Bristol's areas, and
the one-click generalisation."""

from __future__ import annotations

import pytest

from nlp.redaction import quasi_identifiers as qi
from tests.nlp.redaction_support import bristol_gazetteer, redactor


def finding(text: str) -> qi.Finding:
    return qi.find_with(redactor().nlp, text, bristol_gazetteer())


@pytest.mark.parametrize(
    "text",
    [
        "94-year-old widower with dementia living alone in Stoke Bishop, nobody visits him.",
        "A 34-year-old mum of five with MS in Hartcliffe cannot get up the stairs.",
        "Our 7-month-old baby with cerebral palsy in Lockleaze needs a hoist.",
        "She is 82 years old, blind, and lives on her own on Stapleton Road.",
        "Man aged 58 with terminal cancer sleeping in his car in Avonmouth.",
        "A 16 year old care leaver in Filwood has nowhere to go at night.",
    ],
)
def test_an_exact_age_a_condition_and_a_small_place_together_are_flagged(text):
    result = finding(text)
    assert result.flagged, result.details
    assert {qi.AGE, qi.PLACE} <= result.kinds


@pytest.mark.parametrize(
    "text",
    [
        "Older people in Stockwood told us the 96 bus cut means they can't get to the GP any more.",
        "A 94-year-old in Bristol told us the buses are always late.",
        "People with dementia in Stoke Bishop need more day care.",
        "My 92 yr old deaf mum was treated kindly by the paramedics.",
        "Ms Patel came in about her hearing aids and the damp in Easton.",
        "The warm space in Lawrence Hill had 60 people on Tuesday, most of them over 70.",
    ],
)
def test_fewer_details_or_a_large_place_are_not_flagged(text):
    assert not finding(text).flagged


def test_generalisation_removes_the_combination():
    text = "94-year-old widower with dementia living alone in Stoke Bishop, nobody visits him."
    result = finding(text)
    out = qi.generalise(text, result)
    assert out.startswith("An older man")
    for detail in ("94", "widower", "dementia", "alone", "Stoke Bishop"):
        assert detail not in out
    assert "nobody visits him" in out
    assert not finding(out).flagged
    baby = "Our 7-month-old baby with cerebral palsy in Lockleaze needs a hoist."
    assert qi.generalise(baby, finding(baby)) == "A young child with a disability locally needs a hoist."
