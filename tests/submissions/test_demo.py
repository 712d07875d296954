"""The demo observations: several organisations, both kinds, many wards and months, loaded once."""

from __future__ import annotations

from sqlalchemy import func, select

from submissions.models import Observation, ObservationKind, ObservationStatus
from webapp.extensions import db


def test_demo_observations(app, db_session):
    from submissions import demo as observations_demo
    from webapp import demo

    demo.load()
    lines = observations_demo.load()
    assert any("loaded" in line for line in lines), lines
    count = db.session.scalar(select(func.count()).select_from(Observation))
    assert 150 <= count <= 300
    orgs = set(db.session.scalars(select(Observation.organisation_id).distinct()))
    assert len(orgs - {None}) >= 5
    assert set(db.session.scalars(select(Observation.kind).distinct())) == set(ObservationKind)
    assert db.session.scalar(select(func.count(func.distinct(Observation.area_id)))) >= 20
    months = {(d.year, d.month) for d in db.session.scalars(select(Observation.period_start))}
    assert len(months) >= 12
    assert db.session.scalar(select(func.count(func.distinct(Observation.category_id)))) >= 12
    assert db.session.scalar(select(func.count()).where(Observation.consent_to_quote.is_(True))) > 10
    assert db.session.scalar(select(func.count()).where(Observation.status == ObservationStatus.NEEDS_MODERATION)) > 0
    assert "already loaded" in observations_demo.load()[-1]
    assert db.session.scalar(select(func.count()).select_from(Observation)) == count
