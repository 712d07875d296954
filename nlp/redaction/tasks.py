"""Redaction's Celery task and signal receiver: saved observations ring the pipeline's doorbell
(:mod:`nlp.pipeline`), which redacts them in batches through :mod:`nlp.redaction.operations`."""

from __future__ import annotations

from celery import shared_task

from nlp.pipeline import ring_after_commit, run


@shared_task(name="nlp.redact_observations")
def redact_observations(ids: list[int]) -> int:
    """Redact these observations (those already redacted are left alone), in short batches; returns how many were
    redacted. Kept for messages queued before the pipeline (:mod:`nlp.pipeline`) took over."""
    return run([int(i) for i in ids]).get("redacted", 0)


def on_observations_saved(sender, ids: list[int] | None = None, **_) -> None:
    """Signal receiver: once the transaction commits (never on a rollback), ring the pipeline's doorbell; it redacts
    and themes them in batches."""
    if ids:
        ring_after_commit(len(ids))
