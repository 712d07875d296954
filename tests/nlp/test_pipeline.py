"""The NLP pipeline behind the queue (nlp.pipeline): few messages for many observations, nothing lost when a message
is, leases that keep two workers apart, and a bad text that never blocks the rest."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from celery.app.task import Task
from sqlalchemy import func, select

from nlp import pipeline
from nlp.models import WorkLease
from nlp.themes.models import ThemeAssignment, active_model
from submissions import operations as submission_ops
from submissions.models import Observation
from submissions.signals import observations_saved
from tests.nlp.test_redaction_storage import _data, _submit, wards  # noqa: F401 - the fixture is used below
from tests.nlp.test_theme_operations import add_observations, theme_world  # noqa: F401 - the fixture is used below
from webapp import sqlite_queue
from webapp.extensions import db
from webapp.models import utcnow


def _unredacted() -> int:
    return db.session.scalar(select(func.count()).select_from(Observation).where(Observation.redacted_text.is_(None)))


def _count_messages(app, monkeypatch) -> list[str]:
    sent: list[str] = []
    monkeypatch.setitem(app.extensions["celery"].conf, "task_always_eager", False)
    monkeypatch.setattr(Task, "apply_async", lambda self, *a, **kw: sent.append(self.name))
    monkeypatch.setattr(pipeline, "_doorbell_due", 0.0)
    return sent


def test_a_burst_of_submissions_sends_a_few_messages_not_several_per_observation(world, wards, app, monkeypatch):  # noqa: F811
    """Before: every saved observation sent a redaction message and a theme message (and a third once redacted):
    8,592 messages for 4,300 submissions, which the embedded queue moved at one a second."""
    sent = _count_messages(app, monkeypatch)
    started = time.monotonic()
    for i in range(40):
        _submit(world, external_ref=f"burst-{i}")
        db.session.commit()
    elapsed = time.monotonic() - started
    assert _unredacted() == 40  # nothing ran here: the messages were only counted
    most = 2 + elapsed / pipeline.DOORBELL_DELAY_S
    assert len(sent) <= most, f"{len(sent)} messages for 40 submissions in {elapsed:.1f} s"
    assert set(sent) == {"nlp.process_pending"}


def test_a_large_import_rings_for_several_workers(world, wards, app, monkeypatch):  # noqa: F811
    sent = _count_messages(app, monkeypatch)
    pipeline.ring(5_000)
    assert len(sent) == 3  # one per PARALLEL_EVERY observations, so that several workers share the import


def test_an_observation_whose_message_was_lost_is_found_by_the_sweep(world, wards, app):  # noqa: F811
    """Before: the redaction message was the only record of the work; when it was lost (retries used up on
    "database is locked", a worker killed) the observation stayed unredacted, invisible to the partnership."""
    with observations_saved.muted():  # as if the message had been lost
        obs = _submit(world)
    db.session.commit()
    assert _unredacted() == 1
    sweep = app.extensions["celery"].conf.beat_schedule["nlp-sweep"]
    assert sweep["schedule"] <= 60
    app.extensions["celery"].tasks[sweep["task"]].apply()
    db.session.expire_all()
    assert db.session.get(Observation, obs.id).redacted_text.startswith("[NAME] from Barton Hill")
    assert db.session.scalar(select(func.count()).select_from(WorkLease)) == 0, "leases are released"


def test_a_worker_never_takes_observations_another_live_worker_holds(world, wards):  # noqa: F811
    with observations_saved.muted():
        held, free = _submit(world), _submit(world, external_ref="x2")
    db.session.add(WorkLease(observation_id=held.id, owner="other-host 1 token", expires_at=utcnow() + pipeline.LEASE))
    db.session.commit()
    result = pipeline.run()
    assert result["redacted"] == 1
    db.session.expire_all()
    assert db.session.get(Observation, held.id).redacted_text is None
    assert db.session.get(Observation, free.id).redacted_text is not None


def test_leases_of_a_worker_that_died_are_released_when_a_worker_starts(world, wards):  # noqa: F811
    with observations_saved.muted():
        obs = _submit(world)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    ).stdout.strip()
    owner = f"{sqlite_queue._HOST} {dead} deadbeef"
    db.session.add(WorkLease(observation_id=obs.id, owner=owner, expires_at=utcnow() + pipeline.LEASE))
    db.session.commit()
    assert pipeline.run() == {}, "leased: not taken"
    pipeline.on_worker_start()  # releases, then rings (runs eagerly here)
    db.session.expire_all()
    assert db.session.get(Observation, obs.id).redacted_text is not None


def test_a_text_that_breaks_the_redactor_is_postponed_and_the_rest_goes_on(world, wards, monkeypatch):  # noqa: F811
    from nlp.redaction.redactor import Redactor

    real = Redactor.redact_many

    def fragile(self, texts, **kw):
        if any("POISON" in t for t in texts):
            raise RuntimeError("the model fell over")
        return real(self, texts, **kw)

    monkeypatch.setattr(Redactor, "redact_many", fragile)
    with observations_saved.muted():
        bad = _submit(world, text="POISON pill text that the redactor cannot handle at all.")
        good = [
            _submit(world, external_ref=f"g{i}", text=f"Food bank queue number {i} was long today.") for i in range(3)
        ]
    db.session.commit()
    result = pipeline.run()
    assert result["redacted"] == 3
    assert result["postponed"] == 1
    db.session.expire_all()
    assert all(db.session.get(Observation, o.id).redacted_text for o in good)
    lease = db.session.get(WorkLease, bad.id)
    assert lease.attempts == 1
    assert lease.expires_at > utcnow()
    assert pipeline.run() == {}, "postponed: the next run does not spin on it"


def test_an_edit_during_redaction_is_not_overwritten_by_the_old_texts_redaction(world, wards, monkeypatch):  # noqa: F811
    """Redaction runs outside any transaction now: a text edited meanwhile must not get the old text's redaction."""
    from nlp.redaction.redactor import Redactor

    with observations_saved.muted():
        obs = _submit(world)
    db.session.commit()
    real = Redactor.redact_many
    edited = []

    def edit_meanwhile(self, texts, **kw):
        out = real(self, texts, **kw)
        if not edited:
            edited.append(True)
            row = db.session.get(Observation, obs.id)
            text = "Now it says Kwame Mensah called about the Easton pantry."
            with observations_saved.muted():
                submission_ops.update_observation(row, _data(text=text), row.author)
            db.session.commit()
        return out

    monkeypatch.setattr(Redactor, "redact_many", edit_meanwhile)
    pipeline.run()
    db.session.expire_all()
    assert db.session.get(Observation, obs.id).redacted_text == "Now it says [NAME] called about the Easton pantry."


@pytest.mark.slow
def test_new_observations_are_themed_by_the_pipeline(theme_world, texts):  # noqa: F811
    from nlp.themes import refit as theme_refit

    add_observations(theme_world, texts[:60])
    report = theme_refit.refit(theme_world["partnership"])
    db.session.commit()
    [late] = add_observations(theme_world, [texts[70]], start=500)
    late.redacted_text = None  # saved, never redacted, its message lost
    db.session.commit()
    result = pipeline.run()
    assert result["redacted"] == 1
    assert result["assigned"] == 1
    row = db.session.scalar(select(ThemeAssignment).where(ThemeAssignment.observation_id == late.id))
    assert row.model_id == report.model_id == active_model(theme_world["partnership"].id).id
    assert pipeline.pending_counts() == {"unredacted": 0, "unassigned": 0}


@pytest.mark.slow
def test_a_changed_text_loses_its_vector_and_theme_and_a_new_one_deletes_nothing(theme_world, texts, app):  # noqa: F811
    """An edit's old vector and theme no longer hold and are dropped in the edit's transaction; a new observation has
    neither, so saving one issues no delete (two statements less per submission, measured under load)."""
    from sqlalchemy import event

    from nlp.models import ObservationEmbedding
    from nlp.themes import refit as theme_refit

    add_observations(theme_world, texts[:60])
    theme_refit.refit(theme_world["partnership"])
    db.session.commit()
    [edited] = add_observations(theme_world, [texts[70]], start=501)  # an organisation's (every third is public)
    pipeline.run()
    db.session.expire_all()

    def derived(obs_id: int) -> tuple[int, int]:
        return tuple(
            db.session.scalar(select(func.count()).select_from(model).where(model.observation_id == obs_id))
            for model in (ObservationEmbedding, ThemeAssignment)
        )

    assert derived(edited.id) == (1, 1)
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731 - (conn, cursor, statement, ...)
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        admin = theme_world["users"]["org_admin"]
        row = db.session.get(Observation, edited.id)
        submission_ops.update_observation(row, _data(text="The pantry on Stapleton Road has run out of nappies again."),
                               admin)  # fmt: skip
        assert derived(edited.id) == (0, 0), "an edited text kept the vector and theme of the old one"
        deletes_on_edit = [
            s for s in statements if "DELETE FROM observation_embeddings" in s or "DELETE FROM theme_assignments" in s
        ]
        assert len(deletes_on_edit) == 2, deletes_on_edit
        statements.clear()
        submission_ops.submit_observation(
            _data(text="A new lunch club opened at the Easton community centre this week."),
            organisation=theme_world["org"],
            author=admin,
            via="form",
        )
        assert not [
            s for s in statements if "DELETE FROM observation_embeddings" in s or "DELETE FROM theme_assignments" in s
        ]
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    db.session.rollback()
