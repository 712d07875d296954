"""The public resident form: only where switched on, honeypot, rate limit, lands in moderation."""

from __future__ import annotations

from sqlalchemy import func, select

from submissions import operations as ops
from submissions.models import Observation, ObservationStatus
from tests.conftest import app_config
from tests.submissions.conftest import valid_data
from webapp import create_app, operations
from webapp.extensions import db, limiter


def _count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Observation))


def _form(**overrides):
    data = valid_data(**overrides)
    data.pop("consent_to_quote")
    return data


def test_public_form_is_off_unless_switched_on(sharing_world, client):
    slug = sharing_world["partnership"].slug
    assert client.get(f"/public/{slug}/observe").status_code == 404
    assert client.post(f"/public/{slug}/observe", data=_form()).status_code == 404
    assert _count() == 0


def test_public_submission_lands_in_moderation(sharing_world, client):
    sharing_world["partnership"].public_form_enabled = True
    db.session.commit()
    slug = sharing_world["partnership"].slug
    page = client.get(f"/public/{slug}/observe").get_data(as_text=True)
    assert 'name="website"' in page
    assert 'name="sharing_level"' not in page
    response = client.post(f"/public/{slug}/observe", data=_form())
    assert response.status_code == 302
    obs = db.session.scalar(select(Observation))
    assert obs.status is ObservationStatus.NEEDS_MODERATION
    assert obs.organisation_id is None
    assert obs.author_id is None
    assert obs.source.value == "resident_voice"
    bad = client.post(f"/public/{slug}/observe", data=_form(text="hi", area="Atlantis"))
    assert bad.status_code == 422
    assert "Atlantis" in bad.get_data(as_text=True)
    assert _count() == 1


def test_honeypot_stores_nothing(sharing_world, client):
    sharing_world["partnership"].public_form_enabled = True
    db.session.commit()
    response = client.post(f"/public/{sharing_world['partnership'].slug}/observe", data=_form(website="http://spam"))
    assert response.status_code == 302
    assert _count() == 0


def test_public_form_is_rate_limited(tmp_path):
    enabled = limiter.enabled
    app = create_app(app_config(f"sqlite:///{tmp_path}/rl.db", tmp_path, RATELIMIT_ENABLED=True,
                                COMMINTEL_PUBLIC_FORM_RATE_LIMIT="2 per minute"))  # fmt: skip
    try:
        with app.app_context():
            db.create_all()
            ops.ensure_default_categories()
            partnership = operations.create_partnership("Rate Limited", "rate-limited")
            partnership.public_form_enabled = True
            db.session.commit()
            client = app.test_client()
            data = _form(area="")
            codes = [client.post("/public/rate-limited/observe", data=data).status_code for _ in range(4)]
            assert codes == [302, 302, 429, 429]
            assert client.get("/public/rate-limited/observe").status_code == 200  # reading is not limited
            assert db.session.scalar(select(func.count()).select_from(Observation)) == 2
            db.session.remove()
            db.engine.dispose()
    finally:
        limiter.enabled = enabled
