"""Background jobs with progress the UI can show, enqueued only after the request's transaction commits.

One module (over 500 lines) for one job: the life of a job row below, whose steps share its states and must change
together.

The life of a job, and why none stays "running" for ever:

- :func:`enqueue` stores a QUEUED job with the task's name and arguments and sends the task once the transaction
  commits (never for a rolled-back request).
- :func:`running` claims it in one short transaction: QUEUED (or RUNNING with a heartbeat older than
  ``STALE_AFTER``) becomes RUNNING, with this worker's id. A second delivery of the same message finds it claimed or
  finished and does nothing (:class:`JobNotClaimed`, which the Celery task base class treats as done).
- While the block runs, a heartbeat thread writes the progress (:func:`report`) and a heartbeat in its own short
  transactions: progress never waits for, and never fails because of, the job's own database work.
- When the block ends the final state is written in its own transaction, retried while the database is busy. A job
  that failed because the database stayed busy is queued again (up to ``MAX_ATTEMPTS`` runs) instead of failing.
- :func:`recover_interrupted` runs when a worker starts and every minute (beat): a RUNNING job whose worker is gone
  (its process no longer exists on this host, or its heartbeat stopped) is queued again and sent again, or failed
  after ``MAX_ATTEMPTS`` runs; a job QUEUED for a long time is sent again (its message may have been lost).
- A job may split into parts (:func:`fan_out`, e.g. the nightly refit: one part per partnership) so that any number
  of workers share it. The parts are jobs of their own (``parent_id``), created with the hand-over in one
  transaction; the parent then waits (RUNNING, its worker ``PARTS``) without holding a worker, and is settled
  (:func:`settle`) when its last part ends, and by the minute's recovery sweep in case that was missed. One part that
  fails fails alone; the parent lists it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar, cast

from celery import Task
from flask import current_app
from sqlalchemy import CursorResult, event, inspect, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from webapp.extensions import db
from webapp.models import Job, JobStatus, User, utcnow
from webapp.sqlite_queue import consumer_id, is_gone
from webapp.transactions import is_busy_error, write

log = logging.getLogger(__name__)
C = TypeVar("C", bound=Callable[[], object])
_PENDING = "commintel_pending_tasks"
_MUTED = "commintel_tasks_muted"

MAX_ATTEMPTS = 3
HEARTBEAT_SECONDS = 10.0
PROGRESS_SECONDS = 0.5
STALE_AFTER = timedelta(seconds=90)
RESEND_QUEUED_AFTER = timedelta(minutes=10)
# The worker of a parent job that handed its work over to its parts (:func:`fan_out`).
PARTS = "(its parts)"
JOB_SWEEP_SECONDS = 60.0
FINAL_WRITE_ATTEMPTS = 20

# Options for idempotent tasks that take ids and may still lose a race on SQLite: they run again a moment later.
RETRY_LOCKED = {"autoretry_for": (OperationalError,), "retry_backoff": 1, "retry_backoff_max": 30, "max_retries": 10}


class JobNotClaimed(Exception):
    """The job is finished, or another worker runs it: this delivery has nothing to do."""


class JobDeferred(Exception):
    """The job could not finish now (the database stayed busy) and was queued again."""


def worker_id() -> str:
    """Who runs a job: host, process id and a per-process token (see :func:`webapp.sqlite_queue.is_gone`)."""
    return consumer_id()


# Sending after commit ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Send:
    task: Task
    args: tuple
    task_id: str | None = None
    countdown: float | None = None


def enqueue(kind: str, task: Task, *args, created_by: User | None = None) -> Job:
    """Create a Job row and send ``task(job.id, *args)`` once the current transaction commits."""
    job = Job(kind=kind, created_by_id=created_by.id if created_by else None, task=task.name, args=list(args),
              queued_at=utcnow())  # fmt: skip
    db.session.add(job)
    db.session.flush()
    db.session.info.setdefault(_PENDING, []).append(_Send(task, (job.id, *args), job.id))
    return job


def send_after_commit(task: Task, *args) -> None:
    """Send ``task(*args)`` once the current transaction commits (for work that needs no progress page)."""
    if db.session.info.get(_MUTED):
        return
    db.session.info.setdefault(_PENDING, []).append(_Send(task, args))


def call_after_commit(callback: C, key: str | None = None) -> C:
    """Call ``callback()`` once the current transaction commits (never after a rollback). With ``key``, at most once
    per transaction: the callback already registered under that key is returned instead (callers may update it)."""
    if db.session.info.get(_MUTED):
        return callback
    pending = db.session.info.setdefault(_PENDING, [])
    if key is not None:
        for registered in pending:
            if getattr(registered, "commintel_key", None) == key:
                return registered
        callback.commintel_key = key  # type: ignore[attr-defined]
    pending.append(callback)
    return callback


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


def _eager(task: Task) -> bool:
    return bool(task.app.conf.task_always_eager)


@event.listens_for(Session, "after_commit")
def _send_pending(session: Session) -> None:
    for item in session.info.pop(_PENDING, []):
        if not isinstance(item, _Send):
            item()
            continue
        try:
            item.task.apply_async(args=item.args, task_id=item.task_id, countdown=item.countdown)
        except Exception:
            if _eager(item.task):
                raise
            # The transaction is committed: the work is in the database, and the sweeps find it again
            # (recover_interrupted for jobs, the NLP and PDF sweeps for the rest). The request must not fail now.
            log.exception("could not queue %s (job %s); the next sweep sends it again", item.task.name, item.task_id)
            continue
        log.info("enqueued %s (job %s)", item.task.name, item.task_id)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


# Running -----------------------------------------------------------------------------------------------------------


class _Heartbeat:
    """Writes a running job's progress and heartbeat from a thread, each in its own short transaction."""

    def __init__(self, job_id: str, worker: str):
        self.job_id, self.worker = job_id, worker
        self.engine = db.engine
        self._lock = threading.Lock()
        self._values: dict[str, Any] = {}
        self.last: dict[str, Any] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"job-heartbeat-{job_id[:8]}", daemon=True)

    def start(self) -> _Heartbeat:
        _beats[self.job_id] = self
        self._thread.start()
        return self

    def set(self, **values: Any) -> None:
        with self._lock:
            self._values.update(values)
            self.last.update(values)

    def stop(self) -> dict[str, Any]:
        """Stop beating; returns the last progress and message reported (written or not)."""
        _beats.pop(self.job_id, None)
        self._stop.set()
        self._thread.join(timeout=2)
        return dict(self.last)

    def _run(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(PROGRESS_SECONDS):
            with self._lock:
                values, self._values = self._values, {}
            if values or time.monotonic() - last >= HEARTBEAT_SECONDS:
                if self._write(values):
                    last = time.monotonic()
                else:
                    with self._lock:
                        self._values = values | self._values

    def _write(self, values: dict[str, Any]) -> bool:
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    update(Job)
                    .where(Job.id == self.job_id, Job.worker == self.worker, Job.status == JobStatus.RUNNING)
                    .values(heartbeat_at=utcnow(), **values)
                )
            return True
        except Exception as exc:  # noqa: BLE001 - progress is best effort: the next beat tries again
            log.debug("job %s: progress not written this time (%s)", self.job_id, type(exc).__name__)
            return False


_beats: dict[str, _Heartbeat] = {}


def _claim(job_id: str, me: str) -> Job:
    def block() -> int:
        now = utcnow()
        return cast(
            CursorResult,
            db.session.execute(
                update(Job)
                .where(
                    Job.id == job_id,
                    (Job.status == JobStatus.QUEUED)
                    | (
                        (Job.status == JobStatus.RUNNING)
                        & (Job.heartbeat_at < now - STALE_AFTER)
                        & (Job.worker.is_(None) | (Job.worker != PARTS))
                    ),
                )
                .values(
                    status=JobStatus.RUNNING,
                    started_at=now,
                    heartbeat_at=now,
                    worker=me,
                    progress=0,
                    attempts=Job.attempts + 1,
                )  # fmt: skip
                .execution_options(synchronize_session=False)
            ),
        ).rowcount

    claimed = write(block, what=f"claiming job {job_id}")
    job = db.session.get(Job, job_id, populate_existing=True)
    if job is None:
        raise LookupError(f"job {job_id} does not exist")
    if not claimed:
        raise JobNotClaimed(f"job {job_id} is {job.status.value}")
    return job


def _finish(job_id: str, me: str, status: JobStatus, **values: Any) -> None:
    def block() -> None:
        job = db.session.get(Job, job_id, populate_existing=True)
        if job is None:
            return
        if job.worker != me:
            log.warning("job %s was taken over by %s; not recording its end here", job_id, job.worker)
            return
        job.status, job.finished_at = status, utcnow()
        for name, value in values.items():
            setattr(job, name, value)

    write(block, what=f"recording the end of job {job_id}", attempts=FINAL_WRITE_ATTEMPTS)
    parent_id = db.session.scalar(select(Job.parent_id).where(Job.id == job_id))
    if parent_id is not None:
        try:
            settle(parent_id)
        except Exception:
            log.exception("job %s: its parent %s not settled now; the recovery sweep does it", job_id, parent_id)


def _task_named(name: str) -> Task:
    return current_app.extensions["celery"].tasks[name]


def _send_again(job: Job, countdown: float | None = None) -> None:
    """Queue the job's task again (after the transaction commits)."""
    job.status, job.worker, job.queued_at = JobStatus.QUEUED, None, utcnow()
    db.session.info.setdefault(_PENDING, []).append(
        _Send(_task_named(job.task or ""), (job.id, *(job.args or [])), job.id, countdown)
    )


def _requeue(job_id: str, message: str) -> bool:
    def block() -> bool:
        job = db.session.get(Job, job_id, populate_existing=True)
        if job is None or job.task is None or job.attempts >= MAX_ATTEMPTS:
            return False
        job.message = message
        _send_again(job, countdown=5 * job.attempts)
        return True

    return write(block, what=f"queueing job {job_id} again", attempts=FINAL_WRITE_ATTEMPTS)


@contextmanager
def running(job_id: str) -> Iterator[Job]:
    """Claim a job and mark it running; done when the block ends, failed (with the error's class) when it raises.

    The block commits its own work (in short transactions, :func:`webapp.transactions.write`); values it sets on the
    job (``result``, ``message``) are recorded with the final state. Progress (:func:`report`) is written while the
    job runs by a separate heartbeat. Raises :class:`JobNotClaimed` when the job is finished or runs elsewhere.
    """
    me = worker_id()
    job = _claim(job_id, me)
    beat = None if _eager_app() else _Heartbeat(job_id, me).start()
    try:
        yield job
    except Exception as exc:
        if beat:
            beat.stop()
        db.session.rollback()
        if is_busy_error(exc) and _requeue(job_id, "The database was busy; the job runs again in a moment."):
            log.warning("job %s: database busy, queued again", job_id)
            raise JobDeferred(f"job {job_id} queued again") from exc
        message = getattr(exc, "message", None) or f"The job failed ({type(exc).__name__})."
        _finish(job_id, me, JobStatus.FAILED, message=message[:500])
        log.exception("job %s failed", job_id)
        raise
    last = beat.stop() if beat else {}
    if getattr(job, "commintel_handed_over", False):
        db.session.rollback()
        settle(job_id)  # its parts may all have ended already (eager mode, or very quick parts)
        return
    values: dict[str, Any] = {"progress": 100}
    for name in ("result", "message"):
        # What the block set on the job (not yet committed) is recorded; otherwise the last progress message.
        if inspect(job).attrs[name].history.has_changes():
            values[name] = getattr(job, name)
    if "message" not in values and last.get("message"):
        values["message"] = last["message"]
    try:
        db.session.commit()  # whatever else the block left uncommitted (it should commit its own work)
    except OperationalError as exc:
        if not is_busy_error(exc):
            raise
        db.session.rollback()
        log.warning("job %s: its last uncommitted changes were lost to a busy database", job_id)
    _finish(job_id, me, JobStatus.DONE, **values)


def _eager_app() -> bool:
    celery = current_app.extensions.get("celery")
    return bool(celery is None or celery.conf.task_always_eager)


def report(job: Job, progress: int, message: str = "") -> None:
    """Record progress (0-100) for the job page. Never blocks on the database: a heartbeat thread writes it."""
    values: dict[str, Any] = {"progress": max(0, min(100, int(progress))), "message": message[:500]}
    beat = _beats.get(job.id)
    if beat is not None:
        beat.set(**values)
    else:  # run inline (tests, eager mode): the final state is written with the job's own transaction
        job.progress, job.message = values["progress"], values["message"]


# Jobs in parts -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """One part of a job split by :func:`fan_out`: ``task(part_job_id, *args)``, named ``label`` on the page."""

    label: str
    task: Task
    args: tuple = ()


def fan_out(job: Job, parts: list[Part]) -> list[str]:
    """Split the running ``job`` into parts, each a job of its own sent to the queue, so that any number of workers
    share them. Call it inside :func:`running`; the parent is then not finished when the block ends but waits for
    its parts (:func:`settle`). The parts are created and the parent handed over in one short transaction: a worker
    that dies before it leaves the job to run again whole, after it leaves the parts to run. Returns their ids."""
    me = worker_id()

    def block() -> list[str]:
        parent = db.session.get(Job, job.id, populate_existing=True)
        if parent is None or parent.worker != me or parent.status != JobStatus.RUNNING:
            raise JobNotClaimed(f"job {job.id} is no longer run by this worker")
        now, ids = utcnow(), []
        for part in parts:
            child = Job(kind=parent.kind, created_by_id=parent.created_by_id, task=part.task.name,
                        args=list(part.args), queued_at=now, parent_id=parent.id, label=part.label[:200])  # fmt: skip
            db.session.add(child)
            db.session.flush()
            db.session.info.setdefault(_PENDING, []).append(_Send(part.task, (child.id, *part.args), child.id))
            ids.append(child.id)
        parent.worker, parent.heartbeat_at = PARTS, now
        parent.message = f"Sent {len(parts)} part(s) to the workers."
        return ids

    ids = write(block, what=f"splitting job {job.id} into {len(parts)} parts")
    job.commintel_handed_over = True  # type: ignore[attr-defined]  # a mark for running(), not a column
    log.info("job %s split into %s parts", job.id, len(ids))
    return ids


def parts_of(job: Job) -> list[Job]:
    """The parts of a job split by :func:`fan_out`, in the order they were made."""
    return list(db.session.scalars(select(Job).where(Job.parent_id == job.id).order_by(Job.created_at, Job.label)))


def _skipped(part: Job) -> bool:
    return part.status is JobStatus.DONE and bool((part.result or {}).get("skipped"))


def summary(parts: list[Job]) -> tuple[int, str]:
    """(progress, message) of a job from its parts: the mean progress, and how many ended how."""
    if not parts:
        return 100, "Nothing to do."
    ended = [p for p in parts if p.status in (JobStatus.DONE, JobStatus.FAILED)]
    progress = sum(100 if p in ended else p.progress for p in parts) // len(parts)
    failed = [p.label or p.id for p in parts if p.status is JobStatus.FAILED]
    skipped = [p.label or p.id for p in parts if _skipped(p)]
    done = len(ended) - len(failed) - len(skipped)
    words = [f"{done} of {len(parts)} done"]
    if skipped:
        words.append(f"{len(skipped)} skipped ({', '.join(skipped[:5])}{'…' if len(skipped) > 5 else ''})")
    if failed:
        words.append(f"{len(failed)} failed ({', '.join(failed[:5])}{'…' if len(failed) > 5 else ''})")
    if len(ended) < len(parts):
        words.append(f"{len(parts) - len(ended)} still to finish")
    return progress, "; ".join(words) + "."


def settle(job_id: str) -> bool:
    """Finish a job that waits for its parts once every part has ended: DONE, or FAILED when a part failed, with a
    result listing each part. Until then, update its progress. Safe to call at any time, by anyone, twice."""

    def block() -> bool:
        # FOR UPDATE (PostgreSQL; SQLite writers are serialised anyway): two parts ending at once settle in turn,
        # and the second sees the first's end, so the last one always finishes the parent.
        parent = db.session.get(Job, job_id, populate_existing=True, with_for_update=True)
        if parent is None or parent.status != JobStatus.RUNNING or parent.worker != PARTS:
            return False
        parts = parts_of(parent)
        parent.progress, parent.message = summary(parts)
        parent.heartbeat_at = utcnow()
        if any(p.status not in (JobStatus.DONE, JobStatus.FAILED) for p in parts):
            return False
        failed = any(p.status is JobStatus.FAILED for p in parts)
        parent.status, parent.finished_at, parent.progress = (
            JobStatus.FAILED if failed else JobStatus.DONE, utcnow(), 100)  # fmt: skip
        parent.result = {
            "parts": [
                {
                    "job_id": p.id,
                    "label": p.label,
                    "status": p.status.value,
                    "skipped": _skipped(p),
                    "message": p.message,
                }  # fmt: skip
                for p in parts
            ]
        }
        return True

    return write(block, what=f"settling job {job_id}", attempts=FINAL_WRITE_ATTEMPTS)


# Recovery ----------------------------------------------------------------------------------------------------------


def recover_interrupted() -> dict[str, list[str]]:
    """Jobs a dead worker left RUNNING are queued and sent again (failed after ``MAX_ATTEMPTS`` runs); jobs QUEUED
    for longer than ``RESEND_QUEUED_AFTER`` are sent again. Safe to run at any time, by any number of workers."""

    def block() -> dict[str, list[str]]:
        now = utcnow()
        waiting.clear()
        out: dict[str, list[str]] = {"requeued": [], "failed": [], "resent": []}
        for job in db.session.scalars(select(Job).where(Job.status == JobStatus.RUNNING)):
            if job.worker == PARTS:
                waiting.append(job.id)  # waits for its parts, which recovery looks after one by one
                continue
            last_sign = job.heartbeat_at or job.started_at or job.created_at
            if not ((job.worker and is_gone(job.worker)) or last_sign < now - STALE_AFTER):
                continue
            if job.task is None or job.attempts >= MAX_ATTEMPTS:
                job.status, job.finished_at = JobStatus.FAILED, now
                job.message = (f"The background worker stopped while running this job ({job.attempts} time(s)). "
                               "Start it again.")  # fmt: skip
                out["failed"].append(job.id)
            else:
                job.message = "Interrupted when the background worker stopped; it runs again now."
                _send_again(job)
                out["requeued"].append(job.id)
        stuck = select(Job).where(
            Job.status == JobStatus.QUEUED, Job.task.is_not(None), Job.queued_at < now - RESEND_QUEUED_AFTER
        )
        for job in db.session.scalars(stuck):
            _send_again(job)
            out["resent"].append(job.id)
        return out

    waiting: list[str] = []
    out = write(block, what="recovering interrupted jobs")
    for parent_id in waiting:
        settle(parent_id)
    if any(out.values()):
        log.warning("job recovery: %s", {k: len(v) for k, v in out.items()})
    return out


# Where a job leads ---------------------------------------------------------------------------------------------------

_RESULT_LINKS = "commintel.job_result_links"
# (label, address) of the page a job's work shows up on, or None when there is none (the job's record is gone).
ResultLink = Callable[[Job], "tuple[str, str] | None"]


def register_result_link(app, kind: str, link: ResultLink) -> None:
    """Say where a job of ``kind`` leads (called by the package that enqueues it, from its ``init_app``), so that
    the job page ends with a link onward instead of a dead end."""
    app.extensions.setdefault(_RESULT_LINKS, {})[kind] = link


def result_link(job: Job) -> tuple[str, str] | None:
    """The (label, address) the job page links to: the job's result, or where it was started from."""
    link = current_app.extensions.get(_RESULT_LINKS, {}).get(job.kind)
    return link(job) if link is not None else None
