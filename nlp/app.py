"""Registers the NLP package with the app (:func:`nlp.init_app` delegates here): the start-up model checks, CLI
commands, signal hooks, the themes' blueprint, tables and Celery tasks, and the beat schedule."""

from __future__ import annotations

from celery.schedules import crontab
from flask import Flask, url_for

from nlp import embeddings, pipeline
from nlp.models_loader import ModelMissingError, require_spacy_model
from nlp.redaction import tasks as redaction_tasks
from nlp.redaction.cli import nlp_cli
from nlp.signals import observations_redacted
from nlp.themes import erasure as _erasure  # noqa: F401  (register its Celery tasks)
from nlp.themes import models as _models  # noqa: F401  (register the tables)
from nlp.themes import tasks as theme_tasks
from nlp.themes.cli import themes_cli
from nlp.themes.views import bp as themes_bp
from submissions.signals import observation_erased, observations_saved
from webapp.celery_app import register_worker_start_hook
from webapp.config import ConfigError
from webapp.extensions import db
from webapp.jobs import register_result_link
from webapp.models import Job, JobStatus, Partnership


def init_app(app: Flask) -> None:
    """Register the NLP package with the app: CLI commands and the signal hooks that redact saved observations,
    then the themes."""
    # redaction --------------------------------------------------------------------------------------------------
    _require_models(app)
    app.cli.add_command(nlp_cli)
    observations_saved.connect(redaction_tasks.on_observations_saved)
    # themes -----------------------------------------------------------------------------------------------------
    _init_themes(app)


def _require_models(app: Flask) -> None:
    """A missing model is a start-up error naming the package to install, not a failure at the first redaction."""
    try:
        require_spacy_model(app.config["COMMINTEL_SPACY_MODEL"])
    except ModelMissingError as exc:
        raise ConfigError(f"COMMINTEL_SPACY_MODEL: {exc}") from None
    try:
        embeddings.model_path()
    except ModelMissingError as exc:  # models_loader's class, as before the move (embeddings raises its own)
        raise ConfigError(str(exc)) from None


def _init_themes(app: Flask) -> None:
    """Theme models, pages, CLI, signal hooks (after redaction's, so assignment follows it) and the nightly refit."""
    app.register_blueprint(themes_bp)
    app.cli.add_command(themes_cli)
    register_result_link(app, "themes.refit", _refit_result_link)
    # weak=False: the receivers are module functions, but keep them alive whatever imports them.
    observations_saved.connect(theme_tasks.on_observations_saved, weak=False)
    observations_redacted.connect(theme_tasks.on_observations_redacted, weak=False)
    observation_erased.connect(theme_tasks.on_observation_erased, weak=False)
    celery = app.extensions.get("celery")
    if celery is not None:
        celery.conf.beat_schedule = {
            **(celery.conf.beat_schedule or {}),
            "nlp-nightly-theme-refit": {
                "task": "nlp.refit_themes",
                "schedule": crontab(hour=app.config["COMMINTEL_THEME_REFIT_HOUR"] % 24, minute=30),
                "args": (None, None),
            },
            # Whatever is still unredacted or unthemed (a lost message, a dead worker): processed within a minute.
            "nlp-sweep": {"task": "nlp.process_pending", "schedule": pipeline.SWEEP_SECONDS},
        }
        register_worker_start_hook(app, pipeline.on_worker_start)


def _refit_result_link(job: Job) -> tuple[str, str] | None:
    """A theme refresh leads to the partnership's themes (all of them for the nightly run of every partnership)."""
    partnership_id = (job.args or [None])[0]
    partnership = db.session.get(Partnership, partnership_id) if partnership_id else None
    done = job.status is JobStatus.DONE
    if partnership is None:
        return ("See the themes" if done else "Back to the themes", url_for("themes.index"))
    what = "See the themes of" if done else "Back to the themes of"
    return (f"{what} {partnership.name}", url_for("themes.partnership", slug=partnership.slug))
