"""Each machine section builds its typed facts from an edition (every count released through webapp.disclosure),
then renders them: the facts are checked here, with one rendering check per section. The editions are read from
facts as a published version stores them (JSON), so a stored version reads as it did."""

from __future__ import annotations

import json

from convening.composer.edition import Edition
from convening.composer.sections import gaps, indicators, quotes
from webapp.disclosure import Audience, State

# A stored document as a published version holds it (the composer's shape: cells with ids, shared facts).
STORED = {
    "shared": {
        "where": ["Ashley", "Easton"],
        "partnership": "Bristol",
        "deprived": True,
        "wards": [
            {"id": 1, "name": "Ashley", "share": 0.6},
            {"id": 2, "name": "Easton", "share": 0.1},
            {"id": 3, "name": "Lawrence Hill", "share": 0.8},
            {"id": 4, "name": "Hartcliffe", "share": None},
        ],
        "indicators": [
            {"indicator": "Index of Multiple Deprivation", "value": "60% of LSOAs in the most deprived 20%",
             "period": "2025", "trend": "single release", "source": "MHCLG, released 30 October 2025, LSOA 2021",
             "sort": -0.6},
            {"indicator": "FixMyStreet reports", "value": "66.0 count", "period": "2020-12",
             "trend": "up since 2020-11", "source": "mySociety, released 21 July 2021, LSOA 2011", "sort": 0},
        ],
    },
    "partnership": {
        "cells": {
            "ward.1": {"n": 2, "ks": 7, "ids": [1, 2], "within": []},
            "ward.2": {"n": 0, "ks": 0, "ids": [], "within": []},
            "ward.3": {"n": 30, "ks": 99, "ids": list(range(10, 40)), "within": []},
        },
        "quotes": [
            {"observation_id": 5, "group": "Food", "text": "We skip meals.", "resident": True, "org_kind": None},
            {"observation_id": 6, "group": "Food", "text": "Queues at the pantry.", "resident": False,
             "org_kind": "charity"},
            {"observation_id": 7, "group": "Housing", "text": "Damp *everywhere*.", "resident": False,
             "org_kind": None},
        ],
    },
}  # fmt: skip


def _edition(stored: dict = STORED, audience: Audience = Audience.PARTNERSHIP, tokens: bool = False) -> Edition:
    return Edition(json.loads(json.dumps(stored)), audience, None, tokens=tokens)


def test_gap_facts_are_the_deprived_quiet_wards_most_deprived_first():
    facts = gaps.read(_edition())
    assert facts.deprived
    # Ashley: 60% deprived, 2 observations (fewer than k). Lawrence Hill: 80% but 30 observations. Easton: 10%.
    assert [(g.name, g.share) for g in facts.gaps] == [("Ashley", 0.6)]
    assert facts.gaps[0].observations.cell == "ward.1"
    assert facts.gaps[0].observations.state is State.HIDDEN
    markdown, charts = gaps.render(facts)
    assert "| Ashley | 60% | fewer than 5 |" in markdown
    assert charts == []
    draft = gaps.read(_edition(tokens=True))
    assert str(draft.gaps[0].observations) == "{{n:ward.1}}"  # a draft keeps the cell, released when shown


def test_without_deprivation_data_the_gaps_are_the_quiet_wards():
    stored = {**STORED, "shared": {**STORED["shared"], "deprived": False}}
    facts = gaps.read(_edition(stored))
    assert facts.gaps == ()
    assert facts.quiet == ("Ashley", "Easton", "Hartcliffe")  # Hartcliffe has no cell: none recorded
    assert gaps.render(facts)[0].endswith("Ashley, Easton, Hartcliffe.")


def test_indicator_facts_read_the_stored_rows():
    facts = indicators.read(_edition())
    assert facts.where == "Ashley, Easton"
    assert facts.rows[1] == indicators.IndicatorRow(
        "FixMyStreet reports",
        "66.0 count",
        "2020-12",
        "up since 2020-11",
        "mySociety, released 21 July 2021, LSOA 2011",
    )
    assert [(w.name, w.share) for w in facts.ward_shares] == [("Ashley", 0.6), ("Easton", 0.1), ("Lawrence Hill", 0.8)]
    markdown, charts = indicators.render(facts)
    row = STORED["shared"]["indicators"][0]
    assert f"| {row['indicator']} | {row['value']} | {row['period']} | {row['trend']} | {row['source']} |" in markdown
    assert [b["label"] for b in charts[0]["spec"]["data"]["values"]] == ["Lawrence Hill", "Ashley", "Easton"]
    assert indicators.render(indicators.read(_edition(tokens=True)))[1] == []  # a draft draws no chart
    empty = indicators.read(_edition({"shared": {}, "partnership": {}}))
    assert empty.rows == ()
    assert "No official indicator datasets" in indicators.render(empty)[0]


def test_quote_facts_attribute_no_more_narrowly_than_k_organisations():
    facts = quotes.read(_edition())
    # No partnership members known here: a charity is "a partner organisation", as with fewer than k charities.
    assert [(q.group, q.attribution) for q in facts.quotes] == [
        ("Food", "a resident"), ("Food", "a partner organisation"), ("Housing", "a partner organisation")
    ]  # fmt: skip
    markdown, _ = quotes.render(facts)
    assert markdown.count("### Food") == 1
    assert "> Damp \\*everywhere\\*\\." in markdown  # typed text cannot make Markdown
    funders = quotes.read(_edition(audience=Audience.FUNDERS))
    assert funders.quotes == ()
    assert quotes.render(funders)[0].startswith("No quotes in this edition")
