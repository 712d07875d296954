"""Demo step of the themes: fit the Bristol partnership's themes once (about a minute here); later runs leave them
alone."""

from __future__ import annotations

from sqlalchemy import select

from nlp.themes.models import active_model
from nlp.themes.refit import refit
from webapp.extensions import db
from webapp.models import Partnership
from webapp.operations import OperationError


def load() -> list[str]:
    """Fit Bristol's themes unless it has some; return lines to print."""
    partnership = db.session.scalar(select(Partnership).where(Partnership.slug == "bristol"))
    if partnership is None:
        return ["Themes: skipped (no Bristol partnership)."]
    if active_model(partnership.id) is not None:
        return ["Themes: Bristol already has themes (run `commintel themes refresh` to refit)."]
    try:
        with db.session.begin_nested():
            report = refit(partnership)
    except OperationError as exc:
        return [f"Themes: not fitted: {exc.message}"]
    return [f"Themes: Bristol {report.summary()}."]
