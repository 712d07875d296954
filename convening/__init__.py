"""Partnership sessions, briefing composition, PDF rendering, decisions and actions, and the funders' library."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask

from convening import (
    briefing_views,  # noqa: F401  (the composer's routes, on the convening blueprint)
    library_views,  # noqa: F401  (reading and the library, on the convening blueprint)
    models,  # noqa: F401  (register the tables with the metadata)
    network_models,  # noqa: F401  (the organisation network's invitations)
    tasks,  # (registers the Celery tasks, so that workers know them)
)
from convening.cli import briefing_cli
from convening.erasure import observation_erased
from convening.library_views import home_panels, pdf_job_link
from convening.network_views import bp as network_bp
from convening.views import bp
from submissions import signals
from webapp.celery_app import register_worker_start_hook
from webapp.home import register_home_panels
from webapp.jobs import register_result_link
from webapp.warmup import register_warm_up

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.register_blueprint(network_bp)
    app.cli.add_command(briefing_cli)
    _register_pages(app)
    _connect_erasure()
    _schedule_pdf_sweep(app)
    register_warm_up(app, _warm_up_composer)


def _warm_up_composer() -> None:
    """What the first composer page of a server process loaded (about 9 s idle): spaCy for the quote check, and
    WeasyPrint's module and the Vega renderer for its chart images (one small chart drawn starts the renderer)."""
    from convening import pdf  # noqa: PLC0415 - heavy: WeasyPrint, loaded in the warm-up thread
    from nlp.models_loader import load_spacy  # noqa: PLC0415 - the quote check's loader (spaCy: seconds)

    load_spacy()
    pdf.vegalite_svg({"data": {"values": [{"x": 1}]}, "mark": "point", "encoding": {"x": {"field": "x"}}})


def _schedule_pdf_sweep(app: Flask) -> None:
    """Published versions still without their PDF are rendered by a sweep (beat, and every worker start)."""
    celery = app.extensions.get("celery")
    if celery is None:
        return
    celery.conf.beat_schedule = {
        **(celery.conf.beat_schedule or {}),
        "convening-render-missing-pdfs": {"task": "convening.render_missing_pdfs", "schedule": tasks.SWEEP_SECONDS},
    }
    register_worker_start_hook(app, tasks.on_worker_start)


def _on_observation_erased(sender: Any, id: int, **extra: Any) -> None:  # noqa: A002 - the signal's argument name
    versions = observation_erased(int(id))
    if versions:
        log.info("observation %s erased: republished briefing versions %s", id, [v.id for v in versions])


def _connect_erasure() -> None:
    """Listen for erased observations (the signal lives in submissions, below us; connecting twice is harmless)."""
    signals.observation_erased.connect(_on_observation_erased, weak=False)


def _register_pages(app: Flask) -> None:
    """Where this package shows on pages of the ground floor: home page panels, and where a PDF job leads."""
    register_home_panels(app, home_panels)
    register_result_link(app, "briefing_pdf", pdf_job_link)
