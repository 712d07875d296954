"""Redaction wired to storage: the signal sends the task after commit (Celery runs eagerly in tests), the task
stores redacted text, version and a suggested area, and running it again changes nothing; plus the CLI contract."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from nlp.redaction.cli import read_lines
from nlp.redaction.operations import build_gazetteer, build_redactor, redact_observations_now
from nlp.redaction.tasks import redact_observations
from submissions import operations as submission_ops
from submissions.models import Observation
from webapp.extensions import db
from webapp.models import Area, AreaLevel

TEXT = "Mrs Patel from Barton Hill rang on 07700 900123: her son Jayden has no school place in Easton or Lawrence Hill."


@pytest.fixture
def wards(db_session) -> dict[str, Area]:
    bristol = Area(code="E06000023", name="Bristol, City of", level=AreaLevel.LAD)
    lawrence = Area(code="E05010897", name="Lawrence Hill", level=AreaLevel.WARD, parent=bristol)
    easton = Area(code="E05010896", name="Easton", level=AreaLevel.WARD, parent=bristol)
    lsoa = Area(code="E01014488", name="Bristol 032A", level=AreaLevel.LSOA, parent=lawrence)
    db.session.add_all([bristol, lawrence, easton, lsoa])
    submission_ops.ensure_default_categories()
    db.session.commit()
    return {"lawrence": lawrence, "easton": easton}


def _data(**overrides) -> dict:
    data = {
        "kind": "need",
        "category": "food",
        "text": TEXT,
        "area": "",
        "period": "2025-03",
        "trend": "worse",
        "source": "frontline_contact",
        "confidence": "high",
        "sharing_level": "partnership",
    }
    data.update(overrides)
    return data


def _submit(world, **overrides) -> Observation:
    return submission_ops.submit_observation(
        _data(**overrides), organisation=world["org"], author=world["users"]["member"], partnership=world["partnership"]
    )


def test_saving_an_observation_redacts_it_after_commit(world, wards):
    obs = _submit(world)
    assert obs.redacted_text is None  # nothing happens before the commit
    db.session.commit()  # the task is sent now and runs eagerly
    db.session.expire_all()
    obs = db.session.get(Observation, obs.id)
    assert obs.redacted_text == (
        "[NAME] from Barton Hill rang on [PHONE]: her son [NAME] has no school place in Easton or Lawrence Hill."
    )
    assert obs.redaction_version == build_redactor()[0].version
    assert obs.redacted_at is not None
    # Barton Hill is a neighbourhood of Lawrence Hill: two mentions beat Easton's one.
    assert obs.suggested_area_id == wards["lawrence"].id
    assert obs.text == TEXT  # the raw text is kept for its owners


def test_a_rolled_back_save_sends_nothing(world, wards, monkeypatch):
    from nlp.pipeline import process_pending

    sent = []
    monkeypatch.setattr(process_pending, "apply_async", lambda **kw: sent.append(kw))
    _submit(world)
    db.session.rollback()
    assert sent == []
    _submit(world)
    db.session.commit()
    assert len(sent) == 1, "a committed save rings the pipeline's doorbell"


def test_running_again_changes_nothing_and_a_given_area_gets_no_suggestion(world, wards):
    obs = _submit(world, area="E05010896")
    db.session.commit()
    db.session.expire_all()
    obs = db.session.get(Observation, obs.id)
    first = (obs.redacted_text, obs.redacted_at, obs.redaction_version)
    assert obs.area_id == wards["easton"].id
    assert obs.suggested_area_id is None
    assert redact_observations_now([obs.id]) == 0
    assert redact_observations([obs.id]) == 0
    db.session.expire_all()
    obs = db.session.get(Observation, obs.id)
    assert (obs.redacted_text, obs.redacted_at, obs.redaction_version) == first


def test_changed_text_is_redacted_again(world, wards):
    obs = _submit(world)
    db.session.commit()
    obs = db.session.get(Observation, obs.id)
    submission_ops.update_observation(
        obs, _data(text="Call Kwame Mensah on 0117 496 0732 about the Easton pantry."), obs.author
    )
    db.session.commit()
    db.session.expire_all()
    obs = db.session.get(Observation, obs.id)
    assert obs.redacted_text == "Call [NAME] on [PHONE] about the Easton pantry."


def test_redo_catches_up_old_versions_only(world, wards):
    obs = _submit(world)
    db.session.commit()
    db.session.expire_all()
    obs = db.session.get(Observation, obs.id)
    obs.redaction_version = "0/old-model"
    db.session.commit()
    assert redact_observations_now(None) == 0
    assert redact_observations_now(None, redo=True) == 1
    assert db.session.scalar(select(Observation.redaction_version).where(Observation.id == obs.id)) != "0/old-model"


def test_demo_step_redacts_what_is_left_and_is_idempotent(world, wards):
    from nlp import demo

    obs = _submit(world)
    db.session.flush()  # not committed: no task ran, the demo step must do it
    assert obs.redacted_text is None
    lines = demo.load()
    assert any("1 observations redacted" in line for line in lines)
    assert obs.redacted_text is not None
    assert any("nothing left to redact" in line for line in demo.load())


# The CLI: one redacted line out per line in ---------------------------------------------------------------------


def test_lines_are_split_only_on_newlines():
    assert read_lines(b"") == []
    assert read_lines(b"\n") == [""]
    assert read_lines(b"a\nb") == ["a", "b"]
    assert read_lines(b"a\r\nb\r\n") == ["a", "b"]
    assert read_lines("one\u2028still one\x0cand one\n".encode()) == ["one\u2028still one\x0cand one"]
    assert read_lines("\ufeffbom".encode()) == ["bom"]


def test_cli_writes_exactly_one_redacted_line_per_input_line(app, db_session, wards):
    lines = [
        "Mrs Patel rang from 07700 900123 about Lawrence Hill",
        "",
        "   ",
        "emoji only 😀🙏🏽",
        "حلیمہ کو کھانے کی ضرورت ہے۔",
        "食物银行今天关门了",
        "Email sarah@example.org\u2028second part",
        "Card 4111 1111 1111 1111 " * 300,
        "last line without a newline, call 0117 496 0732",
    ]
    data = ("\n".join(lines)).encode("utf-8")
    result = app.test_cli_runner().invoke(args=["nlp", "redact"], input=data)
    assert result.exit_code == 0, result.output
    out = result.stdout_bytes.decode("utf-8").split("\n")
    assert out[-1] == ""
    out = out[:-1]
    assert len(out) == len(lines)
    assert out[0] == "[NAME] rang from [PHONE] about Lawrence Hill"
    assert out[1:4] == ["", "   ", "emoji only 😀🙏🏽"]
    assert out[4] == lines[4]
    assert out[5] == lines[5]
    assert out[6] == "Email [EMAIL]\u2028second part"
    assert "4111" not in out[7]
    assert out[7].count("[CARD_NUMBER]") == 300
    assert out[8] == "last line without a newline, call [PHONE]"


def test_cli_refuses_text_that_is_not_utf8(app, db_session):
    result = app.test_cli_runner().invoke(args=["nlp", "redact"], input=b"fine\n\xff\xfe broken\n")
    assert result.exit_code != 0
    assert "Line 2" in result.output
    assert "UTF-8" in result.output


def test_cli_with_no_input_writes_nothing(app, db_session):
    result = app.test_cli_runner().invoke(args=["nlp", "redact"], input=b"")
    assert result.exit_code == 0
    assert result.stdout_bytes == b""


def test_redaction_tells_listeners_which_observations_it_redacted(world, wards):
    from nlp.signals import observations_redacted

    heard = []

    def listener(sender, ids=None, **_):
        heard.append(list(ids))

    obs = _submit(world)
    db.session.flush()
    with observations_redacted.connected_to(listener):
        assert redact_observations_now([obs.id]) == 1
        assert redact_observations_now([obs.id]) == 0
    assert heard == [[obs.id]]


def test_extra_names_to_keep_come_from_the_setting(app, world, wards, monkeypatch):
    monkeypatch.setitem(app.config, "COMMINTEL_REDACTION_KEEP", "Grace Darling Trust; Kwame Nkrumah House")
    redactor, _ = build_redactor()
    text = "We referred her to the Grace Darling Trust and Kwame Nkrumah House."
    assert redactor.redact(text).text == text


def test_a_name_both_ward_vintages_carry_suggests_the_current_ward(app, db_session, wards):
    """Ward 2019 "Lawrence Hill" (no longer current, added first) and ward 2024 "Lawrence Hill" share a name: the
    place a text names is the current ward, and the earlier ward's own name is still a place, not a person."""
    bristol = wards["lawrence"].parent
    # The earlier ward gets the lowest id, so a read in id order would let it win.
    old = Area(id=0, code="E05001234", name="Lawrence Hill", level=AreaLevel.WARD, parent=bristol, current=False)
    only_old = Area(code="E05001235", name="Cabot", level=AreaLevel.WARD, parent=bristol, current=False)
    db.session.add_all([old, only_old])
    db.session.commit()

    gazetteer, area_ids = build_gazetteer()
    assert gazetteer.code_for("Lawrence Hill") == "E05010897"
    assert gazetteer.code_for("Barton Hill") == "E05010897"  # a neighbourhood, alias of the current ward
    assert gazetteer.code_for("Cabot") == "E05001235"
