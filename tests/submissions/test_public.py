"""The public resident form: only where switched on, honeypot, rate limit, lands in moderation."""

from __future__ import annotations

from sqlalchemy import func, select

from submissions import operations as submission_ops
from submissions.models import Observation, ObservationStatus
from tests.conftest import app_config
from tests.submissions.conftest import valid_data
from webapp import create_app
from webapp import operations as webapp_ops
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
            submission_ops.ensure_default_categories()
            partnership = webapp_ops.create_partnership("Rate Limited", "rate-limited")
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


def test_landing_page_links_each_open_public_form(sharing_world, client, make_org):
    partnership = sharing_world["partnership"]
    closed = webapp_ops.create_partnership("Closed Partnership", "closed", members=[make_org("Quiet Group")])
    assert "/observe" not in client.get("/").get_data(as_text=True)
    partnership.public_form_enabled = True
    db.session.commit()
    page = client.get("/").get_data(as_text=True)
    assert f'href="/public/{partnership.slug}/observe"' in page
    assert f"Tell {partnership.name} what you see" in page
    assert f"/public/{closed.slug}/observe" not in page


def test_residents_are_asked_for_their_own_consent_and_offered_no_sharing_choice(sharing_world, client, client_for):
    sharing_world["partnership"].public_form_enabled = True
    db.session.commit()
    public = client.get(f"/public/{sharing_world['partnership'].slug}/observe").get_data(as_text=True)
    signed_in = client_for("resident").get("/observations/new").get_data(as_text=True)
    member = client_for("member").get("/observations/new").get_data(as_text=True)
    for page in (public, signed_in):
        assert "people concerned" not in page.lower()
        assert "You may quote what I wrote" in page
        assert "My organisation only" not in page
        assert 'name="sharing_level"' not in page
        assert "Funders and the public never read your words" in page
    assert "Tick only if the people concerned agreed" in member
    assert "My organisation only" in member
    # Filtering the list by "My organisation only" means nothing to a resident.
    assert "My organisation only" not in client_for("resident").get("/observations/").get_data(as_text=True)
    assert "My organisation only" in client_for("member").get("/observations/").get_data(as_text=True)


def test_a_residents_first_submit_goes_to_the_only_open_partnership(sharing_world, client_for):
    partnership = sharing_world["partnership"]
    partnership.public_form_enabled = True
    db.session.commit()
    c = client_for("resident")
    page = c.get("/observations/new").get_data(as_text=True)
    assert f"This goes to <strong>{partnership.name}</strong>" in page
    assert "Choose a partnership" not in page
    # Even a submit that leaves the partnership out (an old page, a script) is not refused: there is one choice.
    response = c.post("/observations/new", data=_form())
    assert response.status_code == 302, response.get_data(as_text=True)
    obs = db.session.scalar(select(Observation))
    assert obs.partnership_id == partnership.id
    assert obs.status is ObservationStatus.NEEDS_MODERATION
