"""Ground-floor tasks. Tasks take ids, reload what they need, are safe to run twice and commit once."""

from __future__ import annotations

from celery import shared_task
from sqlalchemy import func, select

from webapp import mail
from webapp import operations as webapp_ops
from webapp.extensions import db
from webapp.jobs import recover_interrupted, report, running
from webapp.models import Area
from webapp.transactions import write


@shared_task(name="webapp.check_round_trip", ignore_result=False)
def check_round_trip(job_id: str) -> dict:
    """Prove that a worker can reach the database: count the areas and store the answer on the job."""
    with running(job_id) as job:
        report(job, 50, "Counting areas")
        areas = db.session.scalar(select(func.count()).select_from(Area))
        job.result = {"areas": areas}
    return {"areas": areas}


@shared_task(name="webapp.recover_jobs")
def recover_jobs() -> dict:
    """Beat, every minute: queue again (or fail) the jobs a dead worker left running; resend long-queued ones."""
    return {k: len(v) for k, v in recover_interrupted().items()}


@shared_task(name="webapp.send_password_reset")
def send_password_reset(email: str) -> bool:
    """Issue and send a password-reset link when ``email`` has an active account (nothing otherwise).

    Runs in the background so the request that asked answers in the same time either way. Safe to run twice: a
    second run sends a newer link, which ends the first (links are single-use as a family)."""
    issued = write(lambda: webapp_ops.request_password_reset(email), what="issuing a password-reset link")
    if issued is None:
        return False
    return mail.send_link(
        issued.token.email,
        "Reset your commintel password",
        "Someone asked to reset the password of your commintel account. If it was you, follow this link:",
        issued.path,
        issued.token.id,
    )
