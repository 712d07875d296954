"""The sharing rules: who sees which observations, and which text of them."""

from __future__ import annotations

from submissions import operations as submission_ops
from submissions.models import Observation, ObservationStatus
from submissions.queries import (
    display_text,
    moderation_queue,
    partnership_observations,
    visible_observations,
)
from tests.submissions.conftest import valid_data
from webapp.extensions import db
from webapp.policy import can_read_raw_text


def _ids(stmt) -> set[int]:
    return set(db.session.scalars(stmt.with_only_columns(Observation.id)))


def test_own_organisation_sees_raw_text_even_before_redaction(sharing_world, make_observation):
    obs = make_observation(redacted=False)
    member = sharing_world["users"]["member"]
    assert obs.id in _ids(visible_observations(member))
    assert display_text(member, obs) == obs.text


def test_partners_and_convenors_see_only_redacted_partnership_level(sharing_world, make_observation, make_user):
    shared = make_observation()
    unredacted = make_observation(redacted=False)
    org_only = make_observation(sharing_level="org_only")
    withdrawn = make_observation(status=ObservationStatus.WITHDRAWN)
    partner_member = make_user("member", sharing_world["other_org"])
    convenor = sharing_world["users"]["convenor"]
    for viewer in (partner_member, convenor):
        seen = _ids(visible_observations(viewer))
        assert shared.id in seen
        assert not seen & {unredacted.id, org_only.id, withdrawn.id}
        assert display_text(viewer, shared) == shared.redacted_text
        assert not can_read_raw_text(viewer, shared)


def test_funders_and_strangers_never_see_observations(sharing_world, make_observation, make_user, make_org):
    make_observation(sharing_level="public_aggregate")
    assert _ids(visible_observations(sharing_world["users"]["funder"])) == set()
    assert _ids(visible_observations(sharing_world["users"]["resident"])) == set()
    stranger = make_user("member", make_org("Unrelated Group"))
    assert _ids(visible_observations(stranger)) == set()
    assert _ids(visible_observations(None)) == set()


def test_organisation_that_has_not_accepted_the_agreement_shares_nothing(sharing_world, make_observation, make_org):
    newcomer = make_org("Newcomer Group")
    sharing_world["partnership"].members.append(newcomer)
    db.session.commit()
    sharing_world["newcomer"] = newcomer
    obs = make_observation(organisation="newcomer")
    assert obs.id not in _ids(partnership_observations(sharing_world["partnership"]))
    assert obs.id not in _ids(visible_observations(sharing_world["users"]["convenor"]))


def test_partnership_observations_are_live_redacted_and_shared(sharing_world, make_observation):
    live = make_observation()
    approved = make_observation(status=ObservationStatus.APPROVED)
    rejected = make_observation(status=ObservationStatus.REJECTED)
    pending = make_observation(redacted=False)
    ids = _ids(partnership_observations(sharing_world["partnership"]))
    assert {live.id, approved.id} <= ids
    assert not ids & {rejected.id, pending.id}


def test_resident_observations_need_moderation_then_redaction(sharing_world):
    resident = sharing_world["users"]["resident"]
    partnership = sharing_world["partnership"]
    obs = submission_ops.submit_observation(valid_data(), organisation=None, author=resident, partnership=partnership)
    db.session.commit()
    convenor = sharing_world["users"]["convenor"]
    assert obs.status is ObservationStatus.NEEDS_MODERATION
    assert obs.id in _ids(moderation_queue(convenor))
    assert can_read_raw_text(convenor, obs)
    assert can_read_raw_text(resident, obs)
    assert obs.id in _ids(visible_observations(resident))
    assert obs.id not in _ids(partnership_observations(partnership))
    submission_ops.approve_observation(obs, convenor)
    assert obs.id not in _ids(partnership_observations(partnership))  # not yet redacted
    obs.redacted_text = "redacted"
    db.session.flush()
    assert obs.id in _ids(partnership_observations(partnership))
    assert not can_read_raw_text(sharing_world["users"]["member"], obs)
    assert obs.id not in _ids(moderation_queue(sharing_world["users"]["member"]))
