"""One refit of a partnership's themes at a time, across every worker on every machine.

A lock row per partnership (:class:`nlp.themes.models.RefitLock`) in the database, because the database is the one thing
every worker shares in both deployments (SQLite + the embedded queue, PostgreSQL + Redis) and because the refit's
last step, storing the new version, is a database write that the lock must fence: :meth:`Held.check` is called in
that same transaction, so a holder that lost its lock (it stalled past the expiry and another worker took over)
stores nothing. A Redis lock could not fence that write.

- **Taking it** is a compare-and-set in one short transaction: an INSERT ... ON CONFLICT DO NOTHING when there is no
  row, else an UPDATE ``WHERE token = <the token just read>`` when the holding may be taken over. On PostgreSQL the
  second of two racing UPDATEs waits for the first and then matches no row; on SQLite writers are serialised. So
  exactly one caller gets it.
- **A holding may be taken over** when it has expired, when its holder is a process of this host that no longer
  exists (the embedded worker after a crash: no need to wait for the expiry), or when it belongs to the same job
  (a job runs again only after its previous run was declared dead, :func:`webapp.jobs.recover_interrupted`).
- **The holder renews it** every ``RENEW_SECONDS`` from a thread, in its own short transactions, pushing the expiry
  ``TTL`` ahead; a worker that dies stops renewing, and the partnership is free again at most ``TTL`` later.
- **Anyone else** gets :class:`AlreadyRefitting`, whose message the job page shows ("already being refitted").
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, select, update

from nlp.themes.models import RefitLock
from webapp.extensions import db
from webapp.jobs import worker_id
from webapp.models import utcnow
from webapp.operations import OperationError
from webapp.sqlite_queue import is_gone
from webapp.transactions import dialect_insert, write

log = logging.getLogger(__name__)

TTL = timedelta(minutes=10)
RENEW_SECONDS = 60.0


class AlreadyRefitting(OperationError):
    """Another worker is refitting this partnership now: this refit is skipped (not failed)."""


class RefitLockLost(OperationError):
    """The lock expired and another worker took the partnership over while this one was fitting."""


class Held:
    """A holding of the lock: its token, and a renewal thread when a real worker holds it."""

    def __init__(self, partnership_id: int, token: str):
        self.partnership_id, self.token = partnership_id, token
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> None:
        """Inside the transaction that stores the refit: raise :class:`RefitLockLost` unless still held."""
        token = db.session.scalar(select(RefitLock.token).where(RefitLock.partnership_id == self.partnership_id))
        if token != self.token:
            self.lost.set()
            raise RefitLockLost(
                "This refit took longer than its lock allows and another worker took the partnership over; "
                "nothing of it was stored."
            )

    def start_renewing(self, engine) -> None:
        def run() -> None:
            while not self._stop.wait(RENEW_SECONDS):
                try:
                    with engine.begin() as conn:
                        renewed = conn.execute(
                            update(RefitLock)
                            .where(RefitLock.partnership_id == self.partnership_id, RefitLock.token == self.token)
                            .values(expires_at=utcnow() + TTL)
                        ).rowcount
                except Exception as exc:  # noqa: BLE001 - the next renewal tries again; TTL leaves room for it
                    log.debug("refit lock of partnership %s not renewed (%s)", self.partnership_id, type(exc).__name__)
                    continue
                if not renewed:
                    log.warning("refit lock of partnership %s was taken over", self.partnership_id)
                    self.lost.set()
                    return

        self._thread = threading.Thread(target=run, name=f"refit-lock-{self.partnership_id}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)


def _may_take_over(lock: RefitLock, job_id: str | None, now) -> bool:
    return lock.expires_at <= now or is_gone(lock.owner) or (job_id is not None and lock.job_id == job_id)


def acquire(partnership_id: int, job_id: str | None = None) -> Held:
    """Take the partnership's refit lock or raise :class:`AlreadyRefitting` (see the module docstring)."""
    token = uuid.uuid4().hex
    me = worker_id()

    def block() -> RefitLock | None:
        now = utcnow()
        values = {"owner": me, "token": token, "job_id": job_id, "acquired_at": now, "expires_at": now + TTL}
        lock = db.session.get(RefitLock, partnership_id, populate_existing=True)
        if lock is None:
            # RETURNING, not rowcount: psycopg reports -1 for an INSERT ... ON CONFLICT DO NOTHING (a test caught
            # two holders at once that way).
            inserted = db.session.scalar(
                dialect_insert(RefitLock)
                .values(partnership_id=partnership_id, **values)
                .on_conflict_do_nothing(index_elements=["partnership_id"])
                .returning(RefitLock.partnership_id)
            )
            taken = int(inserted is not None)
        elif _may_take_over(lock, job_id, now):
            updated = db.session.scalar(
                update(RefitLock)
                .where(RefitLock.partnership_id == partnership_id, RefitLock.token == lock.token)
                .values(**values)
                .returning(RefitLock.partnership_id)
                .execution_options(synchronize_session=False)
            )
            taken = int(updated is not None)
            if taken:
                log.warning("refit lock of partnership %s taken over from %s", partnership_id, lock.owner)
        else:
            taken = 0
        if taken:
            return None
        return db.session.get(RefitLock, partnership_id, populate_existing=True)

    holder = write(block, what=f"taking the refit lock of partnership {partnership_id}")
    if holder is not None:
        since = holder.acquired_at.strftime("%H:%M UTC")
        raise AlreadyRefitting(
            f"Its themes are already being refitted (started {since}); this refit was skipped. "
            "The refit under way makes the new version."
        )
    held = Held(partnership_id, token)
    celery = current_app.extensions.get("celery")
    if celery is not None and not celery.conf.task_always_eager:
        held.start_renewing(db.engine)
    return held


def release(held: Held) -> None:
    """Give the lock up (only this holding's: a lock taken over meanwhile stays with its new holder)."""
    held.stop()

    def block() -> None:
        db.session.execute(
            delete(RefitLock)
            .where(RefitLock.partnership_id == held.partnership_id, RefitLock.token == held.token)
            .execution_options(synchronize_session=False)
        )

    try:
        write(block, what=f"releasing the refit lock of partnership {held.partnership_id}")
    except Exception:
        # Not fatal: the lock expires within TTL (or at once for a crashed local worker).
        log.exception("refit lock of partnership %s not released; it expires by itself", held.partnership_id)


@contextmanager
def refit_lock(partnership_id: int, job_id: str | None = None) -> Iterator[Held]:
    """Hold the partnership's refit lock for the block; raises :class:`AlreadyRefitting` when another holds it."""
    held = acquire(partnership_id, job_id)
    try:
        yield held
    finally:
        release(held)
