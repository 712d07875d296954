"""Background work for themes (Celery tasks take ids and are safe to run twice).

- :func:`refit_themes`: a refit with progress on the job page (``webapp.jobs``); the nightly schedule and the
  "start a refresh" button both send it. The nightly run (every partnership) is split into one job per
  partnership (``webapp.jobs.fan_out``), so N workers on N machines share them; one that fails fails alone. A
  partnership is never refitted twice at once (:mod:`nlp.themes.refit_lock`): a second refit is skipped with that
  reason. A refit runs in short steps (:func:`refit_in_steps`): the corpus is read once (a snapshot), missing vectors
  are stored in short batches, the fit runs outside any transaction, and the new version is written and made active
  in one short transaction at the end. Web requests and the NLP pipeline keep writing meanwhile; the previous
  version stays active until the new one is stored; a worker that dies mid-fit leaves nothing of the new version,
  and the job runs again (``webapp.jobs.recover_interrupted``).
- New observations are placed in the active themes by the pipeline (:mod:`nlp.pipeline`);
  :func:`assign_new_observations` is kept for messages queued before it.
"""

from __future__ import annotations

import logging
import shutil
from functools import partial

from celery import shared_task
from sqlalchemy import select

from nlp import embeddings as emb
from nlp.pipeline import ring_after_commit, run
from nlp.themes import refit as theme_refit
from nlp.themes.assignment import forget_text
from nlp.themes.corpus import Snapshot, instance_dir, quiet, snapshot
from nlp.themes.erasure import purge_observation
from nlp.themes.refit_lock import AlreadyRefitting, refit_lock
from nlp.themes.vectors import EMBED_BATCH, encoder, missing_vector_ids, store_vectors, vectors_for
from webapp import transactions
from webapp.extensions import db
from webapp.jobs import Part, fan_out, report, running
from webapp.models import Job, Partnership, User, utcnow
from webapp.operations import OperationError
from webapp.transactions import end_read, write

log = logging.getLogger(__name__)

EMBED_WRITE_BATCH = 256


@shared_task(name="nlp.refit_themes")
def refit_themes(job_id: str | None, partnership_id: int | None = None) -> dict:
    """Refit one partnership, or (``partnership_id`` None: the nightly run, "refit all") send one refit per
    partnership to the queue so that every worker shares them. With a job id, progress shows on the job page."""
    if job_id is None:
        # The nightly run gets a job too, so that a convenor can see how the night's refit went, and a worker
        # that dies during it leaves a job that is run again.
        def make_job() -> str:
            job = Job(kind="themes.refit", task=refit_themes.name, args=[partnership_id], queued_at=utcnow())
            db.session.add(job)
            db.session.flush()
            return job.id

        job_id = write(make_job, what="creating the nightly refit job")
    if partnership_id is None:
        return _refit_all(job_id)
    try:
        return _refit_one(job_id, partnership_id)
    except OperationError as exc:
        # A convenor's refresh that cannot be done (too few observations): running() marked the job failed with
        # the message for the job page; the previous themes stay active. Not a task error.
        return {"refitted": [], "skipped": [{"partnership_id": partnership_id, "reason": exc.message}]}


def _refit_one(job_id: str, partnership_id: int) -> dict:
    with running(job_id) as job:
        part_of_all = job.parent_id is not None
        if db.session.get(Partnership, partnership_id) is None:
            # Deleted since the refit was asked for: nothing to refit (the nightly run lists it as skipped).
            out = {"refitted": [], "skipped": [{"partnership_id": partnership_id, "reason": "It no longer exists."}]}
            job.result, job.message = out, "The partnership no longer exists; nothing was refitted."
            return out
        try:
            # Nothing of a refit that raised is kept (the block rolls back before the job records why).
            with transactions.command(what=f"refit of partnership {partnership_id}"):
                result = refit_in_steps(partnership_id, _progress(job), actor_id=job.created_by_id, job_id=job.id)
        except AlreadyRefitting as exc:
            # Not a failure: the refit under way makes the new version. The job page says so.
            out = {"refitted": [], "skipped": [{"partnership_id": partnership_id, "reason": exc.message}]}
            job.result, job.message = out, exc.message
            log.info("refit of partnership %s skipped: already being refitted", partnership_id)
            return out
        except OperationError as exc:
            if not part_of_all:
                raise  # a convenor's refresh: the job fails with the reason (running() records it)
            # The nightly run: a partnership that cannot be refitted (too few observations) is skipped, not failed.
            out = {"refitted": [], "skipped": [{"partnership_id": partnership_id, "reason": exc.message}]}
            job.result, job.message = out, exc.message
            log.info("refit of partnership %s skipped: %s", partnership_id, exc.message)
            return out
        out = {"refitted": [result.as_json()], "skipped": []}
        job.result = out
    return out


def _progress(job: Job):
    def progress(pct: int, msg: str) -> None:
        report(job, pct, msg)

    return progress


def _refit_all(job_id: str) -> dict:
    """Split the job into one refit per partnership (:func:`webapp.jobs.fan_out`): each is a job of its own that
    any worker takes, fails alone, and is listed on this job's page; this job ends when the last of them does."""
    with running(job_id) as job:
        partnerships = db.session.execute(select(Partnership.id, Partnership.name).order_by(Partnership.id)).all()
        end_read()
        ids = fan_out(job, [Part(name, refit_themes, (pid,)) for pid, name in partnerships])
    return {"parts": ids}


def refit_in_steps(partnership_id: int, progress=quiet, actor_id: int | None = None, job_id: str | None = None):
    """:func:`nlp.themes.refit.refit` in short transactions (see the module docstring), holding the partnership's
    refit lock (:mod:`nlp.themes.refit_lock`; raises :class:`AlreadyRefitting` when another worker holds it); returns
    its RefitReport."""
    encoder()  # loaded (exported, the first time) before any transaction
    end_read()
    with refit_lock(partnership_id, job_id) as held:
        return _refit_holding(partnership_id, held, progress, actor_id)


def _refit_holding(partnership_id: int, held, progress, actor_id: int | None):
    partnership = db.session.get(Partnership, partnership_id)
    if partnership is None:
        raise OperationError("The partnership no longer exists; nothing was refitted.", "partnership")
    snap = snapshot(partnership)
    texts = snap.text_of()
    todo = missing_vector_ids(snap.ids)
    end_read()
    progress(2, "embedding observations")
    embedded = 0
    for start in range(0, len(todo), EMBED_WRITE_BATCH):
        chunk = todo[start : start + EMBED_WRITE_BATCH]
        encoded = emb.encode([texts[i] for i in chunk], batch_size=EMBED_BATCH, model=encoder())
        vectors = dict(zip(chunk, encoded, strict=True))
        embedded += len(write(partial(store_vectors, texts, vectors), what="storing vectors"))
        progress(2 + 38 * (start + len(chunk)) // len(todo), f"embedded {start + len(chunk)} of {len(todo)}")
    vectors = vectors_for(snap.ids)
    end_read()
    # Observations edited or erased while they were embedded drop out of this fit (the pipeline assigns them later).
    kept = [(i, t, s) for i, t, s in zip(snap.ids, snap.texts, snap.sources, strict=True) if i in vectors]
    snap = Snapshot(snap.partnership_id, [i for i, _, _ in kept], [t for _, t, _ in kept], [s for _, _, s in kept])
    progress(40, "finding themes")
    result = theme_refit.fit_snapshot(snap, vectors, progress)
    progress(85, "saving the model")
    path = theme_refit.save_fit(partnership_id, result)

    def store() -> theme_refit.RefitReport:
        held.check()  # in the storing transaction: a holder whose lock was taken over stores nothing
        actor = db.session.get(User, actor_id) if actor_id else None
        still = db.session.get(Partnership, partnership_id)
        if still is None:  # deleted during the fit
            raise OperationError("The partnership no longer exists; nothing was refitted.", "partnership")
        return theme_refit.store_fit(still, snap, result, path, embedded, actor)

    try:
        report_ = write(store, what=f"storing the refit of partnership {partnership_id}")
    except Exception:
        shutil.rmtree(instance_dir() / path, ignore_errors=True)
        raise
    progress(100, report_.summary())
    return report_


@shared_task(name="nlp.assign_new_observations")
def assign_new_observations(ids: list[int]) -> int:
    """Assign these observations to their partnership's active themes. Kept for messages queued before the
    pipeline (:mod:`nlp.pipeline`) took over; it redacts first what still needs it."""
    return run([int(i) for i in ids]).get("assigned", 0)


def on_observations_saved(sender, ids: list[int] | None = None, created: bool = False, **_) -> None:
    """The text changed: drop stale vectors/assignments now (the pipeline assigns them again after redaction). New
    observations have none: two deletes less for every submission."""
    if ids and not created:
        forget_text(ids)


def on_observations_redacted(sender, ids: list[int] | None = None, **_) -> None:
    """Redacted outside the pipeline (the CLI): ring its doorbell so that they are themed too."""
    if ids:
        ring_after_commit(len(ids))


def on_observation_erased(sender, id: int | None = None, **_) -> None:  # noqa: A002 - the signal's argument name
    if id is not None:
        purge_observation(int(id))
