"""Demo step of the NLP package: redact the demo observations (and suggest their areas) that are not redacted yet.

`commintel demo` calls :func:`load` inside one transaction after the submissions demo. Running it twice changes
nothing the second time: only observations without a redaction are touched.
"""

from __future__ import annotations


def load() -> list[str]:
    """Redact what is not yet redacted; return lines to print."""
    lines: list[str] = []
    # redaction ----------------------------------------------------------------------------------------------------
    from nlp.redaction_tasks import redact_observations_now

    count = redact_observations_now(None)
    lines.append(f"Redaction: {count} observations redacted." if count else "Redaction: nothing left to redact.")
    # themes -------------------------------------------------------------------------------------------------------
    lines.extend(_demo_themes())
    return lines


def _demo_themes() -> list[str]:
    """Fit the Bristol partnership's themes once (about a minute here); later runs leave them alone."""
    from sqlalchemy import select

    from nlp import operations as theme_ops
    from nlp.models import active_model
    from webapp.extensions import db
    from webapp.models import Partnership
    from webapp.operations import OperationError

    partnership = db.session.scalar(select(Partnership).where(Partnership.slug == "bristol"))
    if partnership is None:
        return ["Themes: skipped (no Bristol partnership)."]
    if active_model(partnership.id) is not None:
        return ["Themes: Bristol already has themes (run `commintel themes refresh` to refit)."]
    try:
        with db.session.begin_nested():
            report = theme_ops.refit(partnership)
    except OperationError as exc:
        return [f"Themes: not fitted: {exc.message}"]
    return [f"Themes: Bristol {report.summary()}."]
