"""Safe, fast curation in the composer: publishing asks for a ticked confirmation (checked by the server), the
machine-written sections are approved in one step, and a draft older than the themes it uses says so."""

from __future__ import annotations

from sqlalchemy import func, select

from convening import operations as convening_ops
from convening import queries as convening_queries
from convening.models import BriefingVersion
from nlp.themes import models as theme_models
from nlp.themes import operations as theme_ops
from submissions.models import Observation
from webapp.extensions import db
from webapp.models import Job

NOTICE = "This draft is older than the themes it uses — re-draft?"


def _themed(observed) -> tuple[theme_models.Theme, theme_models.Theme]:
    """An active theme model with the observations assigned: housing to "Damp homes", the rest to a pantry theme."""
    partnership = observed["partnership"]
    model = theme_models.ThemeModel(partnership_id=partnership.id, version=1, embedding_model="all-MiniLM-L6-v2",
                                  path="themes/test", active=True, theme_count=2, corpus_size=30)  # fmt: skip
    pantry = theme_models.Theme(partnership_id=partnership.id, auto_label="Food parcels and pantries")
    damp = theme_models.Theme(partnership_id=partnership.id, auto_label="Damp homes")
    other = theme_models.Theme(partnership_id=partnership.id, auto_label="Not in this briefing")
    db.session.add_all([model, pantry, damp, other])
    db.session.flush()
    model.changes = {"topic_theme_ids": [pantry.id, damp.id, other.id]}
    for obs in db.session.scalars(select(Observation)):
        theme = damp if obs.category.slug == "housing-and-homelessness" else pantry
        db.session.add(theme_models.ThemeAssignment(observation_id=obs.id, model_id=model.id, theme_id=theme.id))
    db.session.commit()
    return damp, other


def _composed(observed, make_session):
    session = make_session()
    briefing = convening_ops.compose_briefing(session, observed["users"]["convenor"])
    db.session.commit()
    return session, briefing


def _versions() -> int:
    return db.session.scalar(select(func.count()).select_from(BriefingVersion))


def test_publish_without_confirmation_publishes_nothing(observed, make_session, client_for):
    session, briefing = _composed(observed, make_session)
    c = client_for("convenor")
    url = f"/convening/sessions/{session.id}/briefing"
    page = c.get(url).get_data(as_text=True)
    assert "Yes, publish this briefing to the partnership and its funders" in page

    assert c.post(f"{url}/approve-all", data={"confirm": "y"}).status_code == 302
    r = c.post(f"{url}/publish", data={}, follow_redirects=True)
    assert "Tick the box to confirm publishing. Nothing was published." in r.get_data(as_text=True)
    assert _versions() == 0
    assert db.session.scalar(select(func.count()).select_from(Job)) == 0  # no PDF job either

    r = c.post(f"{url}/publish", data={"confirm": "y"})
    assert r.status_code == 302
    assert "/jobs/" in r.headers["Location"]
    assert _versions() == 1


def test_approve_all_reviewed_sections_in_one_step(observed, make_session, client_for):
    session, briefing = _composed(observed, make_session)
    unreviewed = [s.id for s in briefing.unreviewed_sections]
    assert len(unreviewed) >= 3
    c = client_for("convenor")
    url = f"/convening/sessions/{session.id}/briefing"
    page = c.get(url).get_data(as_text=True)
    approvable = [s for s in briefing.unreviewed_sections if s.kind.value != "provenance"]
    assert f"Approve {len(approvable)} section(s) as written" in page

    # Without the box ticked nothing is approved.
    r = c.post(f"{url}/approve-all", data={}, follow_redirects=True)
    assert "None was approved." in r.get_data(as_text=True)
    db.session.expire_all()
    assert [s.id for s in db.session.get(type(briefing), briefing.id).unreviewed_sections] == unreviewed

    r = c.post(f"{url}/approve-all", data={"confirm": "y"}, follow_redirects=True)
    assert "section(s) approved as written." in r.get_data(as_text=True)
    db.session.expire_all()
    fresh = db.session.get(type(briefing), briefing.id)
    assert fresh.unreviewed_sections == []
    fresh.check_publishable()  # nothing stops publishing now
    assert all(s.reviewed_by_id == observed["users"]["convenor"].id for s in fresh.sections if s.id in unreviewed)
    # A funder cannot do it.
    assert client_for("funder").post(f"{url}/approve-all", data={"confirm": "y"}).status_code == 403


def test_stale_draft_notice_appears_after_a_rename_and_not_before(observed, make_session, client_for):
    damp, other = _themed(observed)
    session, briefing = _composed(observed, make_session)
    assert damp.id in briefing.facts["shared"]["theme_ids"]
    c = client_for("convenor")
    url = f"/convening/sessions/{session.id}/briefing"
    assert NOTICE not in c.get(url).get_data(as_text=True)

    # A theme the draft does not use changes: still up to date.
    theme_ops.rename_theme(other, "Something else", observed["users"]["convenor"])
    db.session.commit()
    assert NOTICE not in c.get(url).get_data(as_text=True)

    # One it uses is renamed: the notice says so and offers the re-draft.
    theme_ops.rename_theme(damp, "Damp and mould", observed["users"]["convenor"])
    db.session.commit()
    page = c.get(url).get_data(as_text=True)
    assert NOTICE in page
    assert "a theme was renamed" in page
    assert "Re-draft from the latest themes" in page

    # Re-drafting picks the new name up and the notice goes.
    assert c.post(f"/convening/sessions/{session.id}/compose").status_code == 302
    page = c.get(url).get_data(as_text=True)
    assert NOTICE not in page
    assert "Damp and mould" in page


def test_stale_draft_after_a_merge_into_a_used_theme_and_a_refit(observed, make_session):
    damp, other = _themed(observed)
    _, briefing = _composed(observed, make_session)
    theme_ops.merge_themes(other, damp, observed["users"]["convenor"])
    db.session.commit()
    assert convening_queries.draft_staleness(briefing) == ["a theme was merged"]
    db.session.add(
        theme_models.ThemeModel(
            partnership_id=observed["partnership"].id,
            version=2,
            embedding_model="test",
            path="themes/test2",
            active=False,
            theme_count=2,
            corpus_size=30,
        )  # fmt: skip
    )
    db.session.commit()
    assert convening_queries.draft_staleness(briefing) == [
        "a theme was merged",
        "the themes were found again (a refresh)",
    ]
