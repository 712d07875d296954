"""Storing themes: refits keep ids and curated names, a too-small corpus leaves the active version, assignment of
new observations, erasure, export, suppression on the pages and who may see them."""

from __future__ import annotations

import csv
from datetime import date

import pytest
from sqlalchemy import func, select

from nlp.models import ObservationEmbedding
from nlp.themes import assignment as theme_assignment
from nlp.themes import operations as theme_ops
from nlp.themes import refit as theme_refit
from nlp.themes.models import Theme, ThemeAssignment, ThemeModel, active_model
from submissions.models import Category, Observation, ObservationKind, ObservationStatus, SharingLevel
from tests.nlp.conftest import FAST_PARAMS
from webapp import operations as webapp_ops
from webapp.extensions import db
from webapp.operations import OperationError


@pytest.fixture
def theme_world(world, db_session, app):
    """The conftest world's partnership with an accepted agreement and real, redacted demo texts."""
    from submissions import operations as submission_ops

    app.config["COMMINTEL_THEME_PARAMS"] = FAST_PARAMS
    submission_ops.ensure_default_categories()
    partnership = world["partnership"]
    agreement = webapp_ops.publish_agreement(partnership, "We share partnership-level observations.")
    webapp_ops.accept_agreement(agreement, world["org"], world["users"]["org_admin"])
    db.session.commit()
    world["category"] = db.session.scalar(select(Category).order_by(Category.id))
    return world


def add_observations(world, texts, start=0, quote=True, kind=ObservationKind.NEED):
    """Observations spread over the last 12 months (so monthly counts are small and some are suppressed); every
    third from the public form (a second source, so that shared words may become theme words)."""
    from nlp.themes.queries import add_months, month_start

    this_month = month_start(date.today())
    out = []
    for i, text in enumerate(texts, start=start):
        period = add_months(this_month, -(i % 12) - 1)
        public = i % 3 == 2
        obs = Observation(
            organisation_id=None if public else world["org"].id,
            partnership_id=world["partnership"].id,
            kind=kind,
            category_id=world["category"].id,
            text=text,
            redacted_text=text,  # the demo texts carry no personal data
            period_start=period,
            sharing_level=SharingLevel.PARTNERSHIP,
            consent_to_quote=quote,
            external_ref=f"t{i}",
            status=ObservationStatus.APPROVED if public else ObservationStatus.SUBMITTED,
        )
        db.session.add(obs)
        out.append(obs)
    db.session.flush()
    return out


def test_too_small_corpus_keeps_the_previous_version(theme_world, texts):
    add_observations(theme_world, texts[:12])
    with pytest.raises(OperationError, match="at least"):
        theme_refit.refit(theme_world["partnership"])
    assert db.session.scalar(select(func.count()).select_from(ThemeModel)) == 0


def test_the_nightly_refit_runs_as_a_job_that_reports_each_partnership(theme_world, texts):
    """Beat sends no job id; the task makes one, split into one job per partnership (any worker takes each), and
    the outcome (here: too few observations, a skip, not a failure) is on record on both."""
    from nlp.themes.tasks import refit_themes
    from webapp.models import Job, JobStatus

    add_observations(theme_world, texts[:12])
    db.session.commit()
    refit_themes.run(None, None)
    parent = db.session.scalar(select(Job).where(Job.kind == "themes.refit", Job.parent_id.is_(None)))
    part = db.session.scalar(select(Job).where(Job.parent_id == parent.id))
    assert part.status is JobStatus.DONE
    assert part.result["refitted"] == []
    assert [s["partnership_id"] for s in part.result["skipped"]] == [theme_world["partnership"].id]
    assert "at least" in part.message
    assert part.label == theme_world["partnership"].name
    assert parent.status is JobStatus.DONE
    assert parent.result["parts"] == [
        {"job_id": part.id, "label": part.label, "status": "done", "skipped": True, "message": part.message}
    ]
    assert parent.message.startswith("0 of 1 done; 1 skipped")
    assert db.session.scalar(select(func.count()).select_from(ThemeModel)) == 0


@pytest.mark.slow
def test_refit_keeps_ids_and_curated_names(theme_world, texts, client_for, app, tmp_path):
    partnership = theme_world["partnership"]
    convenor = theme_world["users"]["convenor"]
    observations = add_observations(theme_world, texts[:200])
    first = theme_refit.refit(partnership, actor=convenor)
    db.session.commit()
    assert first.version == 1
    assert len(first.theme_ids) >= 3
    assert set(first.new_theme_ids) == set(first.theme_ids)
    assert db.session.scalar(select(func.count()).select_from(ObservationEmbedding)) == 200

    theme = db.session.get(Theme, first.theme_ids[0])
    theme_ops.rename_theme(theme, "Ambulance crews", convenor)
    db.session.commit()

    # More observations arrive; only they are embedded, and the refit keeps the curated theme.
    add_observations(theme_world, texts[200:], start=200)
    second = theme_refit.refit(partnership, actor=convenor)
    db.session.commit()
    assert second.version == 2
    assert second.embedded == len(texts) - 200
    assert theme.id in second.kept_theme_ids
    assert db.session.get(Theme, theme.id).label == "Ambulance crews"
    assert active_model(partnership.id).version == 2
    assert db.session.scalar(select(func.count()).select_from(ThemeModel).where(ThemeModel.active)) == 1

    # Too few observations now (most withdrawn): refused, version 2 stays active.
    for obs in observations[:]:
        obs.status = ObservationStatus.WITHDRAWN
    for obs in db.session.scalars(select(Observation)):
        obs.status = ObservationStatus.WITHDRAWN
    db.session.flush()
    with pytest.raises(OperationError):
        theme_refit.refit(partnership)
    db.session.rollback()
    assert active_model(partnership.id).version == 2


@pytest.mark.slow
def test_assign_export_erase_and_pages(theme_world, texts, client_for, app, tmp_path):
    partnership = theme_world["partnership"]
    convenor = theme_world["users"]["convenor"]
    add_observations(theme_world, texts[:180], quote=False)
    report = theme_refit.refit(partnership, actor=convenor)
    db.session.commit()

    # A new observation is assigned to the active themes (the same rule as the refit).
    [new] = add_observations(theme_world, [texts[200]], start=900, quote=True)
    count, waiting = theme_assignment.assign_observations([new.id])
    db.session.commit()
    assert (count, waiting) == (1, [])
    row = db.session.scalar(select(ThemeAssignment).where(ThemeAssignment.observation_id == new.id))
    assert row.model_id == report.model_id

    # Export: exact columns, one row per observation of the active version.
    out = tmp_path / "themes.csv"
    result = app.test_cli_runner().invoke(args=["themes", "export", str(out)])
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["observation_id", "external_ref", "theme_id", "theme_label", "is_outlier"]
    assert len(rows) == 182

    # Pages: the convenor sees the list and a theme; counts under k are "fewer than k"; only consented quotes.
    client = client_for("convenor")
    page = client.get(f"/themes/{partnership.slug}").get_data(as_text=True)
    assert "Needs" in page
    assert "Assets" in page
    assert "fewer than 5" in page  # about 15 observations a theme over 12 months: small monthly counts
    theme_id = row.theme_id or report.theme_ids[0]
    detail = client.get(f"/themes/{partnership.slug}/{theme_id}").get_data(as_text=True)
    from markupsafe import escape

    quoted = [
        str(escape(o.redacted_text)) in detail for o in db.session.scalars(select(Observation).order_by(Observation.id))
    ]
    assert quoted[:180] == [False] * 180  # none of those consented to quotes
    if row.theme_id == theme_id:
        assert quoted[180]
    assert client_for("member").get(f"/themes/{partnership.slug}").status_code == 403

    # Erasure removes vectors and assignments with the observation.
    from submissions.signals import observation_erased

    observation_erased.send(app, id=new.id)
    assert db.session.scalar(select(func.count()).select_from(ObservationEmbedding).where(
        ObservationEmbedding.observation_id == new.id)) == 0  # fmt: skip
    assert db.session.scalar(select(func.count()).select_from(ThemeAssignment).where(
        ThemeAssignment.observation_id == new.id)) == 0  # fmt: skip


def test_curation_is_audited_and_merge_follows(theme_world):
    from webapp.models import AuditEvent

    convenor = theme_world["users"]["convenor"]
    pid = theme_world["partnership"].id
    a = Theme(partnership_id=pid, auto_label="Bus, late", top_terms=["bus"])
    b = Theme(partnership_id=pid, auto_label="Transport, buses", top_terms=["transport"])
    db.session.add_all([a, b])
    db.session.flush()
    theme_ops.rename_theme(a, "Late buses", convenor)
    assert a.label == "Late buses"
    assert not a.is_machine_label
    theme_ops.merge_themes(a, b, convenor)
    assert a.canonical() is b
    with pytest.raises(OperationError, match="different theme"):
        theme_ops.merge_themes(b, b, convenor)
    theme_ops.set_hidden(b, True, convenor)
    with pytest.raises(OperationError):
        theme_ops.sign_off(a, convenor)
    theme_ops.sign_off(b, convenor)
    actions = set(db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "theme")))
    assert {"themes.rename", "themes.merge", "themes.hide", "themes.sign_off"} <= actions


def test_trend_is_a_binomial_test():
    from nlp.themes.queries import trend
    from webapp.disclosure import Tally

    def tallies(counts: dict) -> dict:  # the months' tallies (record keys made up: the counts are what matters)
        return {month: Tally(n, 37 * n + month.month) for month, n in counts.items()}

    until = date(2025, 7, 10)
    rising = {date(2025, 4, 1): 12, date(2025, 5, 1): 14, date(2025, 6, 1): 15, date(2025, 1, 1): 3,
              date(2025, 2, 1): 2, date(2025, 3, 1): 4}  # fmt: skip
    assert trend(tallies(rising), until).direction == "rising"
    falling = {date(2025, 4, 1): 5, date(2025, 1, 1): 12, date(2025, 2, 1): 10, date(2025, 3, 1): 9}
    assert trend(tallies(falling), until).direction == "falling"
    steady = {date(2025, 4, 1): 6, date(2025, 5, 1): 5, date(2025, 1, 1): 5, date(2025, 2, 1): 6}
    assert trend(tallies(steady), until).direction == "steady"
    assert trend(tallies({date(2025, 6, 1): 4}), until).direction == "too few"
    # A period shown as "fewer than k" leaves the trend untold (a direction would say which side is small).
    assert trend(tallies({date(2025, 4, 1): 1, date(2025, 1, 1): 30}), until).direction == "too few"


def test_themes_refresh_on_workers_sends_the_nightly_job_split_per_partnership(theme_world, texts, app):
    """`commintel themes refresh --on-workers`: the refit of every partnership goes to the queue as the nightly run
    does (eager here, so it runs at once), instead of one partnership after another in the command's process."""
    from webapp.models import Job, JobStatus

    add_observations(theme_world, texts[:12])
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["themes", "refresh", "--on-workers"])
    assert result.exit_code == 0, result.output
    parent = db.session.scalar(select(Job).where(Job.kind == "themes.refit", Job.parent_id.is_(None)))
    assert f"Queued job {parent.id}" in result.output
    assert parent.status is JobStatus.DONE
    part = db.session.scalar(select(Job).where(Job.parent_id == parent.id))
    assert part.args == [theme_world["partnership"].id]
