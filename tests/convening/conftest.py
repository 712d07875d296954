"""Factories for convening: a partnership with real (small) Bristol geography, an accepted agreement, observations
stored through the real submissions operation, and sessions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest

from convening import operations as convening_ops
from convening import publishing
from convening.models import Session
from submissions import operations as submission_ops
from submissions.models import Observation
from submissions.signals import observations_saved
from webapp import operations as webapp_ops
from webapp.extensions import db
from webapp.models import Area, AreaLevel

HELD_ON = date(2025, 4, 1)

SQUARE = '{"type":"Polygon","coordinates":[[[-2.60,51.45],[-2.58,51.45],[-2.58,51.47],[-2.60,51.47],[-2.60,51.45]]]}'
SQUARE2 = '{"type":"Polygon","coordinates":[[[-2.58,51.45],[-2.56,51.45],[-2.56,51.47],[-2.58,51.47],[-2.58,51.45]]]}'


@pytest.fixture
def cworld(world, db_session) -> dict:
    """The conftest world plus Bristol, two wards and an LSOA, the default categories and an accepted agreement."""
    bristol = Area(code="E06000023", name="Bristol, City of", level=AreaLevel.LAD)
    ashley = Area(code="E05010885", name="Ashley", level=AreaLevel.WARD, parent=bristol, boundary=SQUARE)
    lawrence = Area(code="E05010897", name="Lawrence Hill", level=AreaLevel.WARD, parent=bristol, boundary=SQUARE2)
    lsoa = Area(code="E01014488", name="Bristol 032A", level=AreaLevel.LSOA, parent=lawrence)
    db.session.add_all([bristol, ashley, lawrence, lsoa])
    submission_ops.ensure_default_categories()
    partnership = world["partnership"]
    partnership.areas = [bristol, ashley, lawrence]
    partnership.members.append(world["other_org"])
    agreement = webapp_ops.publish_agreement(partnership, "We share partnership-level observations safely.")
    webapp_ops.accept_agreement(agreement, world["org"], world["users"]["org_admin"])
    webapp_ops.accept_agreement(agreement, world["other_org"], world["users"]["admin"])
    db.session.commit()
    world["areas"] = {"bristol": bristol, "ashley": ashley, "lawrence": lawrence, "lsoa": lsoa}
    return world


def observation_data(**overrides) -> dict:
    data = {
        "kind": "need",
        "category": "food",
        "text": "More families are asking for emergency food parcels at the end of the month.",
        "area": "E05010885",
        "period": "2025-03-10",
        "people_affected": "12",
        "groups": ["families"],
        "trend": "worse",
        "source": "frontline_contact",
        "confidence": "high",
        "sharing_level": "partnership",
        "consent_to_quote": False,
    }
    data.update(overrides)
    return data


@pytest.fixture
def make_observation(cworld) -> Callable[..., Observation]:
    def factory(organisation: str = "org", redacted: bool = True, **fields) -> Observation:
        org = cworld[organisation]
        author = cworld["users"]["member"] if organisation == "org" else cworld["users"]["admin"]
        # The nlp package's receivers (redaction, theme assignment) are not under test here: muted, and the redacted
        # text written below stands in for theirs. Saves a spaCy run per observation.
        with observations_saved.muted():
            obs = submission_ops.submit_observation(
                observation_data(**fields), organisation=org, author=author, partnership=cworld["partnership"]
            )
        if redacted:
            obs.redacted_text = "[redacted] " + obs.text
        db.session.commit()
        return obs

    return factory


@pytest.fixture
def observed(cworld, make_observation) -> dict:
    """Enough observations that some counts show: food rising, housing steady, a few assets, one quotable."""
    day = date(2025, 3, 3)
    for i in range(9):
        make_observation(period=(day + timedelta(days=i)).isoformat(), area="E01014488" if i % 2 else "E05010885")
    for i in range(3):
        make_observation(period=(day - timedelta(days=100 + i)).isoformat())
    for i in range(6):
        make_observation(category="housing-and-homelessness", organisation="other_org",
                         period=(day + timedelta(days=i)).isoformat(), area="E05010897")  # fmt: skip
    for i in range(5):
        make_observation(category="housing-and-homelessness", period=(day - timedelta(days=95 + i)).isoformat())
    for i in range(5):
        make_observation(kind="asset", category="food", text=f"The community pantry in the church hall opens {i} "
                         "evenings a week and is well used.", period=(day + timedelta(days=i)).isoformat())  # fmt: skip
    cworld["quoted"] = make_observation(
        consent_to_quote=True, people_affected="90",
        text="Parents tell us they skip meals so that the children can eat before payday.",
    )  # fmt: skip
    return cworld


@pytest.fixture
def make_session(cworld) -> Callable[..., Session]:
    def factory(held_on: date = HELD_ON, title: str = "Spring partnership meeting", **kw) -> Session:
        session = convening_ops.create_session(cworld["partnership"], title, held_on, cworld["users"]["convenor"], **kw)
        db.session.commit()
        return session

    return factory


def approve_all(briefing, user) -> None:
    for s in briefing.sections:
        if s.machine_written:
            convening_ops.approve_section(s, user)


def edition(briefing, audience: str = "partnership"):
    """The draft's edition for ``audience`` (its cells released through webapp.disclosure, as every page does)."""
    from convening.composer.edition import Edition
    from webapp.disclosure import Audience

    return Edition(briefing.facts or {}, Audience(audience), briefing.session.partnership)


def section_markdown(briefing, kind, audience: str = "partnership") -> str:
    """A section of the draft as the edition for ``audience`` reads it (figures released)."""
    from webapp.disclosure import Audience

    doc = publishing.briefing_document(briefing, Audience(audience))
    return next(s["markdown"] for s in doc["sections"] if s["kind"] == kind.value)


def true_count(briefing, cell: str, audience: str = "partnership") -> int:
    """How many observations a cell of the facts counts (the truth behind its released value)."""
    return int(briefing.facts[audience]["cells"].get(cell, {}).get("n", 0))
