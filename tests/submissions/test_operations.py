"""Operations: submit, edit, withdraw, moderate, erase, export, API tokens, categories; signals; audit."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select

from submissions import operations as submission_ops
from submissions import signals
from submissions.models import DEFAULT_CATEGORIES, ApiToken, Category, Observation, ObservationStatus
from submissions.validation import ValidationFailed
from tests.submissions.conftest import valid_data
from webapp.extensions import db
from webapp.models import AuditEvent
from webapp.operations import OperationError


@pytest.fixture
def received():
    got = {"saved": [], "created": [], "erased": []}

    def on_saved(sender, ids, created):
        got["saved"].append(list(ids))
        got["created"].append(created)

    def on_erased(sender, id):  # noqa: A002 - the signal's documented keyword
        got["erased"].append(id)

    signals.observations_saved.connect(on_saved)
    signals.observation_erased.connect(on_erased)
    yield got
    signals.observations_saved.disconnect(on_saved)
    signals.observation_erased.disconnect(on_erased)


def _audit(action):
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def test_submit_stores_sends_signal_and_audits(sharing_world, received):
    member = sharing_world["users"]["member"]
    obs = submission_ops.submit_observation(valid_data(), organisation=sharing_world["org"], author=member)
    assert obs.id is not None
    assert obs.status is ObservationStatus.SUBMITTED
    assert obs.redacted_text is None
    assert received["saved"] == [[obs.id]]
    assert received["created"] == [True]  # nothing derived from it exists yet: listeners need delete nothing
    (event,) = _audit("observation.create")
    assert event.object_id == str(obs.id)
    assert "text" not in event.detail
    assert valid_data()["text"] not in str(event.detail)


def test_duplicate_reference_is_refused(sharing_world):
    org, member = sharing_world["org"], sharing_world["users"]["member"]
    submission_ops.submit_observation(valid_data(external_ref="A-1"), organisation=org, author=member)
    with pytest.raises(ValidationFailed) as failed:
        submission_ops.submit_observation(valid_data(external_ref="A-1"), organisation=org, author=member)
    assert "external_ref" in failed.value.errors


def test_editing_text_clears_the_redaction_and_asks_again(make_observation, sharing_world, received):
    obs = make_observation()
    assert obs.redacted_text is not None
    received["saved"].clear()
    received["created"].clear()
    member = sharing_world["users"]["member"]
    submission_ops.update_observation(obs, valid_data(people_affected="50"), member)
    assert obs.redacted_text is not None  # text unchanged: redaction stands
    assert received["saved"] == []
    submission_ops.update_observation(obs, valid_data(text="A different description of the same problem."), member)
    assert obs.redacted_text is None
    assert received["saved"] == [[obs.id]]
    assert received["created"] == [False]  # its old vector and theme must go


def test_withdraw_once(make_observation, sharing_world):
    obs = make_observation()
    submission_ops.withdraw_observation(obs, sharing_world["users"]["member"])
    assert obs.status is ObservationStatus.WITHDRAWN
    with pytest.raises(OperationError):
        submission_ops.withdraw_observation(obs, sharing_world["users"]["member"])
    with pytest.raises(OperationError):
        submission_ops.update_observation(obs, valid_data(), sharing_world["users"]["member"])


def test_moderation_is_audited_and_needs_a_reason(sharing_world):
    convenor = sharing_world["users"]["convenor"]
    make = lambda: submission_ops.submit_observation(  # noqa: E731
        valid_data(), organisation=None, author=None, partnership=sharing_world["partnership"], via="public_form"
    )
    first, second = make(), make()
    submission_ops.approve_observation(first, convenor)
    assert first.status is ObservationStatus.APPROVED
    with pytest.raises(OperationError):
        submission_ops.approve_observation(first, convenor)
    with pytest.raises(OperationError, match="reason"):
        submission_ops.reject_observation(second, convenor, " ")
    submission_ops.reject_observation(second, convenor, "Contains a full name and address.")
    assert second.status is ObservationStatus.REJECTED
    assert second.rejection_reason == "Contains a full name and address."
    assert len(_audit("observation.approve")) == 1
    assert len(_audit("observation.reject")) == 1


def test_erasure_removes_everything_and_audits_only_the_fact(make_observation, sharing_world, received):
    obs = make_observation(text="Mrs Jane Example of 12 Sample Road said the damp is making her son ill.")
    obs_id = obs.id
    submission_ops.erase_observation(obs, sharing_world["users"]["org_admin"])
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Observation, obs_id) is None
    assert received["erased"] == [obs_id]
    (event,) = _audit("observation.erase")
    assert event.object_id == str(obs_id)
    assert event.actor_id == sharing_world["users"]["org_admin"].id
    assert event.detail == {}
    everything = " ".join(str(e.detail) for e in db.session.scalars(select(AuditEvent)))
    assert "Jane" not in everything


def test_export_neutralises_formulas(make_observation, sharing_world):
    make_observation(text='=HYPERLINK("http://evil.example","click") asks for help', external_ref="+44 123")
    make_observation(text="@SUM(A1:A9) is not a formula here, it is text.", external_ref="-5")
    body = submission_ops.export_csv(sharing_world["org"], sharing_world["users"]["member"])
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == 2
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@")), value
    assert rows[0]["text"].startswith("'=HYPERLINK")
    assert rows[0]["external_ref"] == "'+44 123"


def test_a_tokens_last_use_is_written_once_a_minute_not_on_every_call(sharing_world, monkeypatch):
    """25 concurrent API clients sharing one token each wrote its row: on PostgreSQL they queued for its row lock."""
    from datetime import timedelta

    token, raw = submission_ops.create_api_token(
        sharing_world["org"], "Case system", sharing_world["users"]["org_admin"]
    )
    start = submission_ops.utcnow()
    monkeypatch.setattr(submission_ops, "utcnow", lambda: start)
    submission_ops.authenticate_api_token(f"Bearer {raw}")
    db.session.flush()
    assert token.last_used_at == start
    monkeypatch.setattr(submission_ops, "utcnow", lambda: start + timedelta(seconds=59))
    submission_ops.authenticate_api_token(f"Bearer {raw}")
    assert token not in db.session.dirty, "a use within the minute wrote the token again"
    later = start + timedelta(seconds=submission_ops.TOKEN_TOUCH_SECONDS)
    monkeypatch.setattr(submission_ops, "utcnow", lambda: later)
    submission_ops.authenticate_api_token(f"Bearer {raw}")
    assert token.last_used_at == later


def test_api_tokens_are_hashed_revocable_and_record_last_use(sharing_world):
    org_admin = sharing_world["users"]["org_admin"]
    token, raw = submission_ops.create_api_token(sharing_world["org"], "Case system", org_admin)
    assert raw not in token.token_hash
    assert token.prefix == raw[:10]
    assert submission_ops.authenticate_api_token(f"Bearer {raw}") is token
    assert token.last_used_at is not None
    assert submission_ops.authenticate_api_token("Bearer nope") is None
    assert submission_ops.authenticate_api_token(raw) is None  # the scheme is required
    submission_ops.revoke_api_token(token, org_admin)
    assert submission_ops.authenticate_api_token(f"Bearer {raw}") is None
    with pytest.raises(OperationError):
        submission_ops.create_api_token(sharing_world["org"], "", org_admin)
    assert db.session.scalar(select(func.count()).select_from(ApiToken)) == 1


def test_categories_are_seeded_once_and_admins_add_more(sharing_world):
    assert submission_ops.ensure_default_categories() == 0  # seeded by the areas fixture
    assert db.session.scalar(select(func.count()).select_from(Category)) == len(DEFAULT_CATEGORIES) == 14
    category = submission_ops.create_category(
        "Digital exclusion", "No internet at home.", sharing_world["users"]["admin"]
    )
    assert category.slug == "digital-exclusion"
    clean = submission_ops.submit_observation(
        valid_data(category="Digital exclusion"), organisation=sharing_world["org"], author=None
    )
    assert clean.category_id == category.id
    with pytest.raises(OperationError):
        submission_ops.create_category("digital exclusion")


def test_migration_seeds_the_same_categories():
    import ast
    from pathlib import Path

    source = (Path(__file__).parents[2] / "migrations" / "versions" / "0002_observations.py").read_text()
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "DEFAULT_CATEGORIES":
            assert ast.literal_eval(node.value) == DEFAULT_CATEGORIES
            return
    pytest.fail("0002_observations.py has no DEFAULT_CATEGORIES")


def test_a_reference_stored_meanwhile_is_a_field_error_not_a_crash(sharing_world, monkeypatch):
    """Two requests with the same reference at once: the unique constraint answers, as a field error."""
    org, member = sharing_world["org"], sharing_world["users"]["member"]
    submission_ops.submit_observation(valid_data(external_ref="RACE"), organisation=org, author=member)
    monkeypatch.setattr(submission_ops, "_existing_ref", lambda *args: None)  # the other request has not committed yet
    with pytest.raises(ValidationFailed) as failed:
        submission_ops.submit_observation(valid_data(external_ref="RACE"), organisation=org, author=member)
    assert "external_ref" in failed.value.errors
    db.session.flush()  # the session is still usable
    assert db.session.scalar(select(func.count()).select_from(Observation)) == 1


def test_resident_text_change_goes_back_to_moderation(sharing_world):
    resident = sharing_world["users"]["resident"]
    obs = submission_ops.submit_observation(valid_data(), organisation=None, author=resident,
                                 partnership=sharing_world["partnership"])  # fmt: skip
    submission_ops.approve_observation(obs, sharing_world["users"]["convenor"])
    submission_ops.update_observation(obs, valid_data(text="Now the lift is broken as well as the heating."), resident)
    assert obs.status is ObservationStatus.NEEDS_MODERATION


def test_confirming_the_suggested_area(make_observation, sharing_world):
    obs = make_observation(area="")
    with pytest.raises(OperationError):
        submission_ops.confirm_suggested_area(obs, sharing_world["users"]["member"])
    obs.suggested_area_id = sharing_world["areas"]["lawrence"].id
    submission_ops.confirm_suggested_area(obs, sharing_world["users"]["member"])
    assert obs.area_id == sharing_world["areas"]["lawrence"].id


def test_an_import_announces_its_rows_once(sharing_world, received):
    from submissions import importer, spreadsheets

    data = b"Notes,Kind,Category\nFirst row of the import file.,need,food\nSecond row of the import file.,asset,food\n"
    table = spreadsheets.read_table(data, "f.csv")
    result = importer.import_table(table, importer.guess_mapping(table.headers), sharing_world["org"], None)
    assert received["saved"] == [result.imported_ids]
    assert received["created"] == [True]
