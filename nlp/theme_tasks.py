"""Background work for themes (Celery tasks take ids, commit once, are safe to run twice).

- :func:`refit_themes`: a refit with progress on the job page (``webapp.jobs``); the nightly schedule and the
  "start a refresh" button both send it.
- :func:`assign_new_observations`: places new observations in the active themes (same rule as a refit) seconds
  after they are saved. An observation is never embedded before it is redacted: while redaction is still running
  the task retries a few times, then leaves the rest to the next refit.
"""

from __future__ import annotations

import logging

from celery import shared_task
from sqlalchemy import select

from nlp import operations
from webapp.extensions import db
from webapp.jobs import RETRY_LOCKED, report, running, send_after_commit
from webapp.models import Job, Partnership
from webapp.operations import OperationError

log = logging.getLogger(__name__)

ASSIGN_RETRIES = 10
ASSIGN_RETRY_SECONDS = 1


@shared_task(name="nlp.refit_themes")
def refit_themes(job_id: str | None, partnership_id: int | None = None) -> dict:
    """Refit one partnership (or each partnership when None). With a job id, progress shows on the job page."""
    ids = (
        [partnership_id]
        if partnership_id
        else list(db.session.scalars(select(Partnership.id).order_by(Partnership.id)))
    )
    if job_id is None:
        # The nightly run gets a job too: its progress commits are what keep the embedded SQLite store writable
        # for web requests while the fit runs (and a convenor can see how the night's refit went).
        job = Job(kind="themes.refit")
        db.session.add(job)
        db.session.commit()
        job_id = job.id
    try:
        with running(job_id) as job:
            result = _refit_all(ids, job, asked_for_one=partnership_id is not None)
            job.result = result
    except OperationError as exc:
        # The job page shows the message (running() marked the job failed); the previous themes stay active.
        return {"refitted": [], "skipped": [{"partnership_id": partnership_id, "reason": exc.message}]}
    return result


def _refit_all(ids: list[int], job: Job, asked_for_one: bool) -> dict:
    """Refit each partnership in turn; one that cannot be refitted is skipped with its reason, except when it was
    the one asked for (a convenor's refresh): then the job fails with that reason for the job page to show."""
    out: dict = {"refitted": [], "skipped": []}
    for n, pid in enumerate(ids):
        partnership = db.session.get(Partnership, pid)
        if partnership is None:
            continue

        def progress(pct: int, msg: str, n=n, name=partnership.name) -> None:
            report(job, (100 * n + pct) // max(1, len(ids)), f"{name}: {msg}")

        try:
            result = operations.refit(partnership, progress=progress)
            db.session.commit()
            out["refitted"].append(result.as_json())
        except OperationError as exc:
            db.session.rollback()
            out["skipped"].append({"partnership_id": pid, "reason": exc.message})
            if asked_for_one:
                raise
            log.info("refit of partnership %s skipped: %s", pid, exc.message)
    return out


@shared_task(name="nlp.assign_new_observations", bind=True, **(RETRY_LOCKED | {"max_retries": ASSIGN_RETRIES}))
def assign_new_observations(self, ids: list[int]) -> int:
    """Assign these observations to their partnership's active themes; wait for redaction if it has not run yet."""
    try:
        count, waiting = operations.assign_observations(ids)
        db.session.commit()
    except Exception:
        db.session.rollback()
        log.exception("theme assignment of %s observations failed", len(ids))
        raise
    if waiting and self.request.retries < ASSIGN_RETRIES and not self.request.is_eager:
        raise self.retry(args=[waiting], countdown=ASSIGN_RETRY_SECONDS)
    return count


def on_observations_saved(sender, ids: list[int] | None = None, **_) -> None:
    """The text changed: drop stale vectors/assignments now, and assign once redaction has run (after commit)."""
    if ids:
        operations.forget_text(ids)
        send_after_commit(assign_new_observations, [int(i) for i in ids])


def on_observations_redacted(sender, ids: list[int] | None = None, **_) -> None:
    if ids:
        send_after_commit(assign_new_observations, [int(i) for i in ids])


def on_observation_erased(sender, id: int | None = None, **_) -> None:  # noqa: A002 - the signal's argument name
    if id is not None:
        operations.purge_observation(int(id))
