"""Ground-floor tasks. Tasks take ids, reload what they need, are safe to run twice and commit once."""

from __future__ import annotations

from celery import shared_task
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.jobs import report, running
from webapp.models import Area


@shared_task(name="webapp.check_round_trip")
def check_round_trip(job_id: str) -> dict:
    """Prove that a worker can reach the database: count the areas and store the answer on the job."""
    with running(job_id) as job:
        report(job, 50, "Counting areas")
        areas = db.session.scalar(select(func.count()).select_from(Area))
        job.result = {"areas": areas}
    return {"areas": areas}
