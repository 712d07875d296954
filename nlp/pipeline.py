"""Redaction, embedding and theme assignment of saved observations, in bounded batches that nothing can lose.

The database, not the queue, says what is left to do: an observation is *pending* while it has no redacted text, or
while it is shared with a partnership whose themes are fitted and has no assignment under the active version. A
message on the queue only says "there is work" (a doorbell, :func:`ring`); whichever worker takes it processes
everything pending, batch by batch, and a periodic sweep (beat, every ``SWEEP_SECONDS``) and every worker start do
the same. So a lost, duplicated or redelivered message changes nothing, and work a dead worker left half-done is
found again.

Each batch of at most ``BATCH_SIZE`` observations:

1. is *leased* in a short transaction (:class:`nlp.models.WorkLease`), so two workers never do the same one;
2. is read, then redacted with spaCy outside any transaction, and the results written in one short transaction
   (observations erased or edited meanwhile are left alone);
3. is embedded and placed in the active themes the same way (read, compute, one short write);
4. has its leases released. A batch that fails is tried again one observation at a time, and what still fails is
   leased away for longer each time (so one bad text never blocks the rest, nor spins the worker).

Doorbells coalesce: a web process sends at most one every ``DOORBELL_DELAY_S`` seconds however many observations
are saved (one that is due later than the commit is sure to see it), and a large import rings one per
``PARALLEL_EVERY`` observations (up to ``MAX_PARALLEL``) so that several workers share it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from datetime import timedelta
from functools import partial
from typing import cast

from celery import shared_task
from flask import current_app
from sqlalchemy import CursorResult, delete, exists, func, select

from nlp.models import WorkLease
from nlp.redaction.operations import build_redactor, prepare_redactions, store_redactions
from nlp.redaction.redactor import Redactor
from nlp.themes.assignment import compute_assignments, plan_assignments, store_assignments
from nlp.themes.models import ThemeAssignment, ThemeModel
from nlp.themes.vectors import encoder
from submissions.models import Observation
from submissions.queries import partnership_observations
from webapp import transactions
from webapp.extensions import db
from webapp.jobs import call_after_commit, work_done_inline, worker_id
from webapp.models import Partnership, utcnow
from webapp.sqlite_queue import is_gone
from webapp.transactions import dialect_insert, end_read, is_busy_error, write

log = logging.getLogger(__name__)

BATCH_SIZE = 128
LEASE = timedelta(minutes=10)
RUN_SECONDS = 120.0
SWEEP_SECONDS = 60.0
DOORBELL_DELAY_S = 0.5
PARALLEL_EVERY = 2000
MAX_PARALLEL = 4
# Hints longer than this are ignored (the run processes everything pending): an IN list has limits.
MAX_HINT_IDS = 1000
# A worker that finds only observations another worker has just leased looks again this many times.
CLAIM_TRIES = 5

_doorbell_lock = threading.Lock()
_doorbell_due = 0.0


# Doorbells ---------------------------------------------------------------------------------------------------------


def ring(count: int = 1) -> None:
    """Ask a worker to process what is pending (``count``: how many observations were just saved)."""
    global _doorbell_due
    extra = min(MAX_PARALLEL, -(-count // PARALLEL_EVERY)) - 1
    if current_app.extensions["celery"].conf.task_always_eager:
        process_pending.apply_async()
        return
    now = time.time()
    with _doorbell_lock:
        # A doorbell due after now runs after this commit, and so sees what it saved.
        send = _doorbell_due <= now
        if send:
            _doorbell_due = now + DOORBELL_DELAY_S
    if send:
        process_pending.apply_async(countdown=DOORBELL_DELAY_S)
    for _ in range(max(0, extra)):
        process_pending.apply_async()


class _Ring:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        try:
            ring(self.count)
        except Exception:
            # Committed work is never lost: the sweep finds it within SWEEP_SECONDS.
            log.exception("could not ring the NLP doorbell; the sweep will find the %s observation(s)", self.count)


def ring_after_commit(count: int = 1) -> None:
    """Ring once the current transaction commits (once per transaction, counting every observation)."""
    registered = call_after_commit(_Ring(), key="nlp.ring")
    if isinstance(registered, _Ring):
        registered.count += count


# What is pending ---------------------------------------------------------------------------------------------------


def _not_leased(now):
    return Observation.id.not_in(select(WorkLease.observation_id).where(WorkLease.expires_at > now))


def _unredacted(now, limit: int, ids: list[int] | None) -> list[int]:
    stmt = select(Observation.id).where(Observation.redacted_text.is_(None), _not_leased(now))
    if ids is not None:
        stmt = stmt.where(Observation.id.in_(ids))
    return list(db.session.scalars(stmt.order_by(Observation.id).limit(limit)))


def _unassigned(now, limit: int, ids: list[int] | None) -> list[int]:
    out: list[int] = []
    models = db.session.scalars(
        select(ThemeModel).where(ThemeModel.active.is_(True), ThemeModel.partnership_id.is_not(None))
    )
    for model in list(models):
        partnership = db.session.get(Partnership, model.partnership_id)
        if partnership is None:  # deleted meanwhile (its models go with it)
            continue
        assigned = exists().where(
            ThemeAssignment.observation_id == Observation.id, ThemeAssignment.model_id == model.id
        )
        stmt = (
            partnership_observations(partnership)
            .with_only_columns(Observation.id)
            .where(func.length(func.trim(Observation.redacted_text)) > 0, ~assigned, _not_leased(now))
            .limit(limit - len(out))
        )
        if ids is not None:
            stmt = stmt.where(Observation.id.in_(ids))
        out.extend(db.session.scalars(stmt))
        if len(out) >= limit:
            break
    return out


def pending_counts() -> dict[str, int]:
    """How many observations wait for redaction, and for theme assignment (leased ones included); for the
    benchmark and the health of the queue."""
    far = utcnow() - timedelta(days=36500)
    return {"unredacted": len(_unredacted(far, 10**9, None)), "unassigned": len(_unassigned(far, 10**9, None))}


def _lease(ids: list[int], owner: str, now) -> list[int]:
    """Lease those of ``ids`` that nobody holds (or whose lease ran out); returns the ids leased."""
    table = WorkLease.__table__
    rows = [{"observation_id": i, "owner": owner, "expires_at": now + LEASE, "attempts": 0} for i in ids]
    stmt = dialect_insert(table).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.observation_id],
        set_={"owner": stmt.excluded.owner, "expires_at": stmt.excluded.expires_at},
        where=table.c.expires_at <= now,
    ).returning(table.c.observation_id)
    return sorted(db.session.scalars(stmt))


def _lease_now(ids: list[int], owner: str) -> list[int]:
    return _lease(ids, owner, utcnow())


def _claim(owner: str, ids: list[int] | None) -> list[int]:
    """Find a batch's worth of pending observations (a read: the search over a large corpus holds no lock), then
    lease those still free in one short write (the upsert decides between two workers that found the same ones).
    A worker that lost every one of them to another looks again (the next ones are free): before, it stopped, and
    of two workers woken by a large import's doorbells only one worked."""
    for _ in range(CLAIM_TRIES):
        now = utcnow()
        candidates = _unredacted(now, BATCH_SIZE, ids)
        if len(candidates) < BATCH_SIZE:
            candidates += _unassigned(now, BATCH_SIZE - len(candidates), ids)
        end_read()
        if not candidates:
            return []
        leased = write(partial(_lease_now, sorted(set(candidates)), owner), what="leasing observations")
        if leased:
            return leased
    return []


def _release(ids: list[int]) -> None:
    db.session.execute(delete(WorkLease).where(WorkLease.observation_id.in_(ids)))


def _postpone(ids: list[int]) -> None:
    """A failed try: lease the observations away for 1, 4, 9... minutes (at most a day) before the next one."""
    for lease in db.session.scalars(select(WorkLease).where(WorkLease.observation_id.in_(ids))):
        lease.attempts += 1
        lease.expires_at = utcnow() + min(timedelta(days=1), timedelta(minutes=lease.attempts**2))


def release_dead_leases() -> int:
    """Leases held by workers of this host that are gone are released (not those postponed after a failure)."""
    owners = [o for o in db.session.scalars(select(WorkLease.owner).distinct()) if is_gone(o)]
    end_read()
    if not owners:
        return 0

    def block() -> int:
        stmt = delete(WorkLease).where(WorkLease.owner.in_(owners), WorkLease.attempts == 0)
        result = cast(CursorResult, db.session.execute(stmt.execution_options(synchronize_session=False)))
        return result.rowcount

    released = write(block, what="releasing leases of stopped workers")
    log.warning("released %s observation lease(s) held by a worker that stopped", released)
    return released


# Processing --------------------------------------------------------------------------------------------------------


class _Redactor:
    """Built on first use in a run (it loads spaCy and reads the areas), then reused for every batch."""

    def __init__(self) -> None:
        self._built: tuple[Redactor, dict[str, int]] | None = None

    def get(self) -> tuple[Redactor, dict[str, int]]:
        if self._built is None:
            self._built = build_redactor()
            end_read()
        return self._built


def _process(batch: list[int], redactor: _Redactor) -> Counter:
    done: Counter = Counter()
    rows = db.session.execute(
        select(Observation.id, Observation.text).where(Observation.id.in_(batch), Observation.redacted_text.is_(None))
    ).all()
    end_read()
    if rows:
        app_redactor, area_ids = redactor.get()
        results = app_redactor.redact_many([text for _, text in rows], batch_size=64)
        prepared = prepare_redactions({oid: text for oid, text in rows}, results, app_redactor.version, area_ids)
        with work_done_inline():  # this run assigns them next: no doorbell for its own work
            stored = write(lambda: store_redactions(prepared), what="storing redactions")
        done["redacted"] += len(stored)
    encoder()  # loaded (exported, the first time) outside any transaction
    work, _waiting = plan_assignments(batch)
    end_read()
    if work:
        compute_assignments(work)
        done["assigned"] += write(lambda: store_assignments(work), what="storing theme assignments")
    return done


def run(ids: list[int] | None = None, budget_s: float = RUN_SECONDS) -> dict[str, int]:
    """Process pending observations (only those in ``ids`` when given) until none is left or ``budget_s`` has
    passed (then ring again, so the rest follows in another run). Returns counts."""
    if ids is not None and len(ids) > MAX_HINT_IDS:
        ids = None
    owner, started = worker_id(), time.monotonic()
    redactor, totals = _Redactor(), Counter[str]()
    end_read()
    while True:
        batch = _claim(owner, ids)
        if not batch:
            break
        totals["batches"] += 1
        try:
            with transactions.command(what="NLP batch"):  # rolled back when it raised
                totals += _process(batch, redactor)
                write(partial(_release, batch), what="releasing leases")
        except Exception as exc:
            if is_busy_error(exc):
                # The database stayed busy through every retry: leave the batch to the next run (its lease runs
                # out) rather than marking good observations as failed.
                log.warning("NLP batch of %s observations: database busy; left for the next run", len(batch))
                ring()
                break
            log.exception("NLP batch of %s observations failed; trying them one by one", len(batch))
            totals += _one_by_one(batch, redactor)
        if time.monotonic() - started > budget_s:
            ring()
            break
    result = dict(totals)
    if totals:
        log.info("NLP pipeline run: %s", result)
    return result


def _one_by_one(batch: list[int], redactor: _Redactor) -> Counter:
    totals: Counter = Counter()
    for oid in batch:
        try:
            with transactions.command(what="NLP observation"):  # rolled back when it raised
                totals += _process([oid], redactor)
                write(partial(_release, [oid]), what="releasing a lease")
        except Exception:
            log.exception("observation %s could not be redacted or themed; postponed", oid)
            write(partial(_postpone, [oid]), what="postponing an observation")
            totals["postponed"] += 1
    return totals


@shared_task(name="nlp.process_pending")
def process_pending(ids: list[int] | None = None) -> dict[str, int]:
    """Redact, embed and theme what is pending (the doorbell, the sweep and worker start all send this)."""
    return run([int(i) for i in ids] if ids is not None else None)


def on_worker_start() -> None:
    """A worker started: release what a dead worker of this host held, and process whatever is pending."""
    release_dead_leases()
    ring()


def lease_count() -> int:
    return db.session.scalar(select(func.count()).select_from(WorkLease)) or 0
