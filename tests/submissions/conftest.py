"""Factories for observations: real models, a small real geography (Bristol codes), the default taxonomy."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import pytest

from submissions import operations as submission_ops
from submissions import signals
from submissions.models import Observation
from webapp import operations as webapp_ops
from webapp.extensions import db
from webapp.models import Area, AreaLevel


@pytest.fixture(autouse=True)
def only_submissions_listens(monkeypatch):
    """Test this package on its own: the packages above (NLP redaction and theming) listen to our signals and, with
    eager tasks, would redact observations that a test means to leave unredacted. Tests connect their own receivers."""
    for signal in (signals.observations_saved, signals.observation_erased):
        monkeypatch.setattr(signal, "receivers", {})
        monkeypatch.setattr(signal, "_by_sender", defaultdict(set))
        monkeypatch.setattr(signal, "_by_receiver", defaultdict(set))


@pytest.fixture
def areas(db_session) -> dict[str, Area]:
    """Bristol, two of its wards and an LSOA in one of them; plus a ward of another local authority."""
    bristol = Area(code="E06000023", name="Bristol, City of", level=AreaLevel.LAD)
    ashley = Area(code="E05010885", name="Ashley", level=AreaLevel.WARD, parent=bristol)
    lawrence = Area(code="E05010897", name="Lawrence Hill", level=AreaLevel.WARD, parent=bristol)
    lsoa = Area(code="E01014488", name="Bristol 032A", level=AreaLevel.LSOA, parent=lawrence)
    bath = Area(code="E06000022", name="Bath and North East Somerset", level=AreaLevel.LAD)
    abbey = Area(code="E05001947", name="Abbey", level=AreaLevel.WARD, parent=bath)
    db.session.add_all([bristol, ashley, lawrence, lsoa, bath, abbey])
    submission_ops.ensure_default_categories()
    db.session.commit()
    return {"bristol": bristol, "ashley": ashley, "lawrence": lawrence, "lsoa": lsoa, "abbey": abbey}


@pytest.fixture
def sharing_world(world, areas, db_session, tmp_path) -> dict:
    """The conftest world with areas, an agreement its member organisation accepted, and a sharing partner."""
    partnership = world["partnership"]
    partnership.areas = [areas["bristol"]]
    partner = world["other_org"]
    partnership.members.append(partner)
    agreement = webapp_ops.publish_agreement(partnership, "We share partnership-level observations safely.")
    webapp_ops.accept_agreement(agreement, world["org"], world["users"]["org_admin"])
    webapp_ops.accept_agreement(agreement, partner, world["users"]["admin"])
    db.session.commit()
    world["areas"] = areas
    world["tmp"] = tmp_path
    return world


def valid_data(**overrides) -> dict:
    data = {
        "kind": "need",
        "category": "food",
        "text": "More families than ever are asking for emergency food parcels at the end of the month.",
        "area": "E05010885",
        "period": "2025-03",
        "people_affected": "40",
        "groups": ["families", "children"],
        "trend": "worse",
        "source": "frontline_contact",
        "confidence": "high",
        "sharing_level": "partnership",
        "consent_to_quote": False,
    }
    data.update(overrides)
    return data


@pytest.fixture
def make_observation(sharing_world) -> Callable[..., Observation]:
    """Store an observation through the real operation; ``redacted`` fills the NLP package's part."""

    def factory(organisation="org", author="member", redacted: bool = True, status=None, **fields) -> Observation:
        org = sharing_world[organisation] if isinstance(organisation, str) else organisation
        user = sharing_world["users"][author] if isinstance(author, str) else author
        partnership = sharing_world["partnership"]
        obs = submission_ops.submit_observation(
            valid_data(**fields), organisation=org, author=user, partnership=partnership
        )
        if redacted:
            obs.redacted_text = "[redacted] " + obs.text
        if status is not None:
            obs.status = status
        db.session.commit()
        return obs

    return factory
