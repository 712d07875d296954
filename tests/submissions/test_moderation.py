"""Moderation that finishes the job: a moderator sets or confirms the area of a resident's observation (and a
convenor confirms the suggested places of approved ones), edits personal data out before approving (audited without
the text), and a rejection reason for an anonymous sender is kept for the record and labelled so."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from submissions import operations as submission_ops
from submissions.models import Observation, ObservationStatus
from tests.submissions.conftest import valid_data
from webapp.extensions import db
from webapp.models import AuditEvent
from webapp.operations import OperationError

SECRET = "Mrs Jane Doughty at 14 Stapleton Road"


def _resident(sharing_world, author=None, **fields) -> Observation:
    obs = submission_ops.submit_observation(
        valid_data(**fields), organisation=None, author=author, partnership=sharing_world["partnership"]
    )
    db.session.commit()
    return obs


def _events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def test_moderator_edit_is_audited_without_the_text(sharing_world, client_for):
    obs = _resident(sharing_world, text=f"{SECRET} told us the food bank ran out of nappies again this week.")
    assert obs.status is ObservationStatus.NEEDS_MODERATION
    saved = []
    submission_ops.signals.observations_saved.connect(lambda _app, ids, created: saved.append(ids), weak=False)
    c = client_for("convenor")
    page = c.get("/observations/moderation").get_data(as_text=True)
    assert "Edit out personal data" in page
    edited = "A resident told us the food bank ran out of nappies again this week."
    r = c.post(f"/observations/{obs.id}/moderate/text", data={"text": edited}, follow_redirects=True)
    assert "text edited" in r.get_data(as_text=True)
    db.session.expire_all()
    fresh = db.session.get(Observation, obs.id)
    assert fresh.text == edited
    assert fresh.redacted_text is None  # redacted again from the edited text
    assert saved == [[obs.id]]  # the redaction pipeline was told
    [event] = _events("observation.moderator_edit")
    assert event.actor_id == sharing_world["users"]["convenor"].id
    assert event.at is not None
    assert event.object_id == str(obs.id)
    assert event.detail["text_changed"] is True
    stored = json.dumps(event.detail)
    for word in ("Doughty", "Stapleton", "nappies", "resident told"):
        assert word not in stored
    # Still waiting for approval: editing does not approve.
    assert fresh.status is ObservationStatus.NEEDS_MODERATION


def test_moderator_edit_refuses_bad_text_and_approved_observations(sharing_world, client_for):
    obs = _resident(sharing_world, text=f"{SECRET} needs help with the gas bill this winter.")
    c = client_for("convenor")
    r = c.post(f"/observations/{obs.id}/moderate/text", data={"text": "short"}, follow_redirects=True)
    assert "too short" in r.get_data(as_text=True)
    r = c.post(f"/observations/{obs.id}/moderate/text", data={"text": obs.text}, follow_redirects=True)
    assert "The text is unchanged" in r.get_data(as_text=True)
    assert _events("observation.moderator_edit") == []
    submission_ops.approve_observation(obs, sharing_world["users"]["convenor"])
    db.session.commit()
    with pytest.raises(OperationError, match="waiting for moderation"):
        submission_ops.edit_text_by_moderator(
            obs, "Someone needs help with the gas bill.", sharing_world["users"]["convenor"]
        )
    # Not a moderator of it: 403 by role, and the text is unchanged.
    assert (
        client_for("member").post(f"/observations/{obs.id}/moderate/text", data={"text": "x" * 20}).status_code == 403
    )
    db.session.expire_all()
    assert SECRET in db.session.get(Observation, obs.id).text


def test_moderator_sets_and_confirms_the_area(sharing_world, client_for):
    areas = sharing_world["areas"]
    obs = _resident(sharing_world, area="")
    obs.suggested_area_id = areas["lawrence"].id
    db.session.commit()
    c = client_for("convenor")
    page = c.get("/observations/moderation").get_data(as_text=True)
    assert "Confirm Lawrence Hill as the area" in page
    assert "Abbey" not in page  # a ward outside the partnership is not offered

    r = c.post(f"/observations/{obs.id}/moderate/area", data={"action": "confirm"}, follow_redirects=True)
    assert "area confirmed" in r.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Observation, obs.id).area_id == areas["lawrence"].id

    c.post(f"/observations/{obs.id}/moderate/area", data={"action": "set", "area": str(areas["lsoa"].id)})
    db.session.expire_all()
    assert db.session.get(Observation, obs.id).area_id == areas["lsoa"].id
    # Outside the partnership: refused with a message, nothing changed.
    r = c.post(f"/observations/{obs.id}/moderate/area", data={"action": "set", "area": str(areas["abbey"].id)},
               follow_redirects=True)  # fmt: skip
    assert "Choose one of the partnership" in r.get_data(as_text=True)
    r = c.post(f"/observations/{obs.id}/moderate/area", data={"action": "set", "area": "999999"},
               follow_redirects=True)  # fmt: skip
    assert r.status_code == 200
    db.session.expire_all()
    assert db.session.get(Observation, obs.id).area_id == areas["lsoa"].id
    # The whole partnership area.
    c.post(f"/observations/{obs.id}/moderate/area", data={"action": "set", "area": "0"})
    db.session.expire_all()
    assert db.session.get(Observation, obs.id).area_id is None
    assert [e.detail["area_id"] for e in _events("observation.set_area")] == [areas["lsoa"].id, None]
    assert len(_events("observation.confirm_area")) == 1


def test_convenor_confirms_the_suggested_place_of_an_approved_observation(sharing_world, client_for):
    areas = sharing_world["areas"]
    obs = _resident(sharing_world, area="", text="The bus to Lawrence Hill stopped running after six in the evening.")
    obs.suggested_area_id = areas["lawrence"].id
    submission_ops.approve_observation(obs, sharing_world["users"]["convenor"])
    db.session.commit()
    c = client_for("convenor")
    page = c.get("/observations/moderation").get_data(as_text=True)
    section = page.split("Approved, with a place not yet confirmed", 1)[1]
    assert f'id="obs-{obs.id}"' in section
    assert "(suggested, not confirmed)" in section
    c.post(f"/observations/{obs.id}/moderate/area", data={"action": "confirm"})
    db.session.expire_all()
    assert db.session.get(Observation, obs.id).area_id == areas["lawrence"].id
    page = c.get("/observations/moderation").get_data(as_text=True)
    assert "Every approved resident's observation has a confirmed place." in page


def test_rejection_reason_of_an_anonymous_sender_is_kept_for_the_record(sharing_world, client_for):
    anonymous = _resident(sharing_world, text="Anonymous: the library closes too early for working parents.")
    signed_in = _resident(sharing_world, author=sharing_world["users"]["resident"],
                          text="Signed in: the library closes too early for working parents.")  # fmt: skip
    c = client_for("convenor")
    page = c.get("/observations/moderation").get_data(as_text=True)
    anon_card = page.split(f'id="obs-{anonymous.id}"', 1)[1].split("</section>", 1)[0]
    named_card = page.split(f'id="obs-{signed_in.id}"', 1)[1].split("</section>", 1)[0]
    assert "kept for the record: the sender is anonymous and will not see it" in anon_card
    assert "shown to the submitter" not in anon_card
    assert "shown to the resident on their observation" in named_card

    for obs in (anonymous, signed_in):
        c.post(
            f"/observations/{obs.id}/moderate", data={"action": "reject", "reason": "Off topic for the partnership."}
        )
    db.session.expire_all()
    assert db.session.get(Observation, anonymous.id).rejection_reason == "Off topic for the partnership."
    reasons = {e.object_id: e.detail["reason_for"] for e in _events("observation.reject")}
    assert reasons == {str(anonymous.id): "record", str(signed_in.id): "submitter"}
    for e in _events("observation.reject"):
        assert "Off topic" not in json.dumps(e.detail)
    detail = c.get(f"/observations/{anonymous.id}").get_data(as_text=True)
    assert "Off topic for the partnership." in detail
    assert "reason kept for the record: the sender is anonymous" in detail
