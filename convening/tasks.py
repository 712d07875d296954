"""Background work of convening: rendering a published version's PDF. Tasks take ids, are safe to run twice
(a version's PDF is written once) and commit once."""

from __future__ import annotations

from celery import shared_task

from convening.models import BriefingVersion
from webapp.extensions import db
from webapp.jobs import report, running


@shared_task(name="convening.render_briefing_pdf")
def render_briefing_pdf(job_id: str, version_id: int) -> dict:
    """Render and store the PDF of a published version, reporting progress on the job page."""
    with running(job_id) as job:
        version = db.session.get(BriefingVersion, version_id)
        if version is None:
            raise LookupError(f"briefing version {version_id} does not exist")
        report(job, 5, f"Rendering version {version.number}")
        from convening.operations import render_version_pdf

        render_version_pdf(version, progress=lambda pct, msg: report(job, pct, msg))
        pages = {e.audience.value: e.pdf_pages for e in version.editions}
        job.result = {"version_id": version.id, "pages": pages}
        job.message = f"The PDFs of version {version.number} are ready ({version.pdf_pages})."
        db.session.commit()
    return {"version_id": version_id}


@shared_task(name="convening.render_briefing_pdf_now")
def render_briefing_pdf_now(version_id: int) -> dict:
    """The same without a job page: used when a version is published automatically (after an erasure)."""
    from convening.operations import render_version_pdf

    try:
        version = db.session.get(BriefingVersion, version_id)
        if version is None:
            return {"version_id": version_id, "missing": True}
        render_version_pdf(version)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return {"version_id": version_id}
