"""Background work of convening: rendering the PDFs of a published version's editions. Tasks take ids and are safe
to run twice (an edition's PDF is written once per release).

A PDF is rendered outside any database transaction (it takes seconds) and stored in one short transaction that is
retried while the database is busy (:func:`webapp.transactions.write`), so a write elsewhere during the render (an
erasure, a submission) never makes it fail. A published version still without its PDF a few minutes later (a lost
message, a dead worker) is rendered by the sweep (:func:`render_missing_pdfs`: beat, and every worker start), so no
version stays "Being prepared".
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from sqlalchemy import select

from convening.models import BriefingEdition, BriefingVersion
from convening.publishing import editions_to_render, render_document_pdf, store_edition_pdf
from webapp import jobs
from webapp.extensions import db
from webapp.jobs import report, running
from webapp.models import Job, JobStatus, User, utcnow
from webapp.transactions import end_read, write

log = logging.getLogger(__name__)

SWEEP_SECONDS = 120.0
# A version published this long ago without its PDF is rendered by the sweep (its own task had time to do it).
MISSING_AFTER = timedelta(minutes=3)


def _render_and_store(version_id: int, progress=None) -> BriefingVersion | None:
    """Render the PDF of each edition that needs one (no transaction) and store each (a short one). None when the
    version is gone."""
    version = db.session.get(BriefingVersion, version_id)
    if version is None:
        return None
    todo = editions_to_render(version)
    end_read()
    for i, (audience, document) in enumerate(todo):
        if progress:
            progress(20 + 35 * i, f"Drawing charts and the map ({audience.value} edition)")
        result = render_document_pdf(document)
        if progress:
            progress(50 + 35 * i, f"Storing the {audience.value} edition's PDF ({result.pages} pages)")

        def store(audience=audience, result=result) -> None:
            stored = db.session.get(BriefingVersion, version_id)
            if stored is not None:
                store_edition_pdf(stored, audience, result)

        write(store, what=f"storing the {audience.value} edition's PDF of briefing version {version_id}")
    return db.session.get(BriefingVersion, version_id)


@shared_task(name="convening.render_briefing_pdf")
def render_briefing_pdf(job_id: str, version_id: int) -> dict:
    """Render and store the PDF of a published version, reporting progress on the job page."""
    with running(job_id) as job:
        version = db.session.get(BriefingVersion, version_id)
        if version is None:
            raise LookupError(f"briefing version {version_id} does not exist")
        report(job, 5, f"Rendering version {version.number}")
        version = _render_and_store(version_id, progress=lambda pct, msg: report(job, pct, msg))
        if version is None:
            raise LookupError(f"briefing version {version_id} was deleted while its PDF was rendered")
        job.result = {"version_id": version.id, "pages": {e.audience.value: e.pdf_pages for e in version.editions}}
        job.message = f"The PDFs of version {version.number} are ready ({version.pdf_pages})."
    return {"version_id": version_id}


@shared_task(name="convening.render_briefing_pdf_now")
def render_briefing_pdf_now(version_id: int) -> dict:
    """The same without a job page: used when a version is published automatically (after an erasure)."""
    version = _render_and_store(version_id)
    return {"version_id": version_id, "missing": version is None}


@shared_task(name="convening.render_missing_pdfs")
def render_missing_pdfs() -> list[int]:
    """Sweep: send the render of every served version published a while ago that still lacks an edition's PDF, or
    whose PDFs were released with another k or perturbation table than the ones in force, and has no job queued or
    running for it."""
    cutoff = utcnow() - MISSING_AFTER
    # Every served version has its editions' rows from publishing (and 0010_disclosure for older ones): reading
    # them, not the versions' contents, is enough (their PDFs are deferred).
    editions = db.session.scalars(
        select(BriefingEdition)
        .join(BriefingVersion)
        .where(BriefingVersion.withdrawn_at.is_(None), BriefingVersion.published_at < cutoff)
    )
    missing = sorted({e.version_id for e in editions if e.stale})
    if missing:
        busy = {
            int((job.args or [0])[0])
            for job in db.session.scalars(
                select(Job).where(Job.kind == "briefing_pdf", Job.status.in_((JobStatus.QUEUED, JobStatus.RUNNING)))
            )
            if job.args
        }
        missing = [v for v in missing if v not in busy]
    end_read()
    for version_id in missing:
        render_briefing_pdf_now.apply_async(args=[version_id])
    if missing:
        log.warning("rendering the PDF of %s briefing version(s) still without one: %s", len(missing), missing)
    return missing


def on_worker_start() -> None:
    render_missing_pdfs.apply_async()


def enqueue_pdf(version: BriefingVersion, actor: User | None) -> Job:
    """Queue the rendering of a just-published version's PDFs as a job whose progress the publisher follows (sent
    once the request commits)."""
    return jobs.enqueue("briefing_pdf", render_briefing_pdf, version.id, created_by=actor)
