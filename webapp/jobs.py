"""Background jobs with progress the UI can show, enqueued only after the request's transaction commits."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from celery import Task
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from webapp.extensions import db
from webapp.models import Job, JobStatus, User, utcnow

log = logging.getLogger(__name__)
_PENDING = "commintel_pending_tasks"
_MUTED = "commintel_tasks_muted"

# Options for idempotent tasks that take ids: on the embedded SQLite store a task that read before a web request
# committed cannot then write ("database is locked"); it runs again a moment later (PostgreSQL never needs it).
RETRY_LOCKED = {"autoretry_for": (OperationalError,), "retry_backoff": 1, "retry_backoff_max": 30, "max_retries": 6}


def enqueue(kind: str, task: Task, *args, created_by: User | None = None) -> Job:
    """Create a Job row and send ``task(job.id, *args)`` once the current transaction commits."""
    job = Job(kind=kind, created_by_id=created_by.id if created_by else None)
    db.session.add(job)
    db.session.flush()
    db.session.info.setdefault(_PENDING, []).append((task, (job.id, *args), job.id))
    return job


def send_after_commit(task: Task, *args) -> None:
    """Send ``task(*args)`` once the current transaction commits (for work that needs no progress page)."""
    if db.session.info.get(_MUTED):
        return
    db.session.info.setdefault(_PENDING, []).append((task, args, None))


@contextmanager
def work_done_inline() -> Iterator[None]:
    """Inside this block nothing is sent by :func:`send_after_commit`: the caller does that work itself (the demo
    loader redacts and fits themes in its own transaction, so queueing the same work again would only keep the
    worker busy, and the database locked, for minutes after start-up)."""
    db.session.info[_MUTED] = True
    try:
        yield
    finally:
        db.session.info.pop(_MUTED, None)


@event.listens_for(Session, "after_commit")
def _send_pending(session: Session) -> None:
    for task, args, task_id in session.info.pop(_PENDING, []):
        task.apply_async(args=args, task_id=task_id)
        log.info("enqueued %s (job %s)", task.name, task_id)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


@contextmanager
def running(job_id: str) -> Iterator[Job]:
    """Mark a job running; done when the block ends, failed (with the error's class) when it raises.

    Progress written inside the block is committed as it goes (``report``), so pages show it while the job runs.
    """
    job = db.session.get(Job, job_id)
    if job is None:
        raise LookupError(f"job {job_id} does not exist")
    job.status, job.started_at, job.progress = JobStatus.RUNNING, utcnow(), 0
    db.session.commit()
    try:
        yield job
    except Exception as exc:
        db.session.rollback()
        job = db.session.get(Job, job_id)
        job.status, job.finished_at = JobStatus.FAILED, utcnow()
        job.message = getattr(exc, "message", None) or f"The job failed ({type(exc).__name__})."
        db.session.commit()
        log.exception("job %s failed", job_id)
        raise
    job.status, job.progress, job.finished_at = JobStatus.DONE, 100, utcnow()
    db.session.commit()


def report(job: Job, progress: int, message: str = "") -> None:
    """Record progress (0-100) and commit it so that the job page shows it at once."""
    job.progress = max(0, min(100, int(progress)))
    job.message = message[:500]
    db.session.commit()
