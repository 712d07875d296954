"""The one place that commits: a request's, a task's and a command's transaction, and waiting or retrying when the
embedded SQLite store is busy (never a 500).

Views, operations and queries never commit or roll back (``make lint`` checks: ``tools/check_commit_points.py``).

- A **request** commits once, after its view returned a response (whatever its status: a refused login's counted
  attempt is kept), and rolls back when the view raised. A view that must throw away what it wrote on its way (a form
  whose rows failed half-way) calls :func:`discard`. Writes made before the view (a session's last use, noted while
  loading the user) are committed by :func:`commit_or_redo`. See :func:`dispatch_with_retry`.
- A **task or job** writes through :func:`write` (one short transaction per bounded batch) or inside
  :func:`webapp.jobs.running`.
- A **command** (``flask``/``commintel`` CLI) wraps its work in :func:`command` (or writes through :func:`write`).

SQLite has one writer at a time. The rules that keep the web process and the background worker out of each other's
way (PostgreSQL needs none of them; there every function here runs its block once):

- A transaction begins *deferred* (it takes no lock) unless it is known to write: a web request with an unsafe method
  (POST, PUT, PATCH, DELETE), a block inside :func:`write_intent`, or the retry of a request that lost the race to
  write. Those begin ``IMMEDIATE``: they take the write lock up front and wait for it (``busy_timeout``) while
  another connection writes, rather than failing half-way.
- A deferred transaction that has read and then writes after another connection committed cannot be upgraded
  ("database is locked", at once: SQLite cannot wait its way out of a stale snapshot). A web request that hits this
  is run again from the start with its write lock taken up front (:func:`dispatch_with_retry`); background work
  writes through :func:`write`, which does the same for its block.
- Background work reads in its own transactions, computes (NLP) outside any transaction, and writes each bounded
  batch in one short transaction (:func:`write`), so the web process never waits longer than one batch.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from flask import g, has_request_context, request
from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError

from webapp.extensions import db

log = logging.getLogger(__name__)

T = TypeVar("T")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# How long a connection waits for the write lock before SQLite gives up (PRAGMA busy_timeout, milliseconds). The
# worker's batches hold it for a fraction of a second; this is for the rare long write (a 20,000-row import).
BUSY_TIMEOUT_MS = 30_000
# A request that lost the race to write runs again this many times (each with the write lock taken up front).
REQUEST_RETRIES = 3
# Background writes: attempts, and the longest pause between two.
WRITE_ATTEMPTS = 8
WRITE_BACKOFF_MAX_S = 5.0
# A background write that holds the lock longer than this is logged (requests wait that long).
SLOW_WRITE_S = 1.0

_write_intent: ContextVar[bool] = ContextVar("commintel_write_intent", default=False)
_G_WRITE_INTENT = "commintel_write_intent"
_G_DISCARD = "commintel_discard"

_GATE = "commintel_write_gate"
SLOW_LOCK_S = 0.5


def tune_sqlite(engine: Engine) -> None:
    """Make SQLite behave like the PostgreSQL we run in production, as far as it can.

    Foreign keys on (cascades work); WAL and a generous busy timeout, so the web process and the embedded worker
    share the file; and real transactions, since Python 3.11's sqlite3 otherwise starts them late and ignores
    SAVEPOINTs (SQLAlchemy's documented recipe).

    Which BEGIN a transaction uses is decided by :func:`begin_statement`: deferred (no lock) for
    reading, IMMEDIATE (the write lock up front, waiting for it) for requests that write and for background batches.
    """
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        # Deleted rows are overwritten with zeros, not left in free pages: erasure must leave no bytes behind.
        cursor.execute("PRAGMA secure_delete=ON")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            # In WAL mode a commit need not wait for the disk: a process that dies (SIGKILL, OOM) loses nothing;
            # only a power cut can undo the last commits. Measured: 5 of the API's 19 ms a submission, while
            # holding the write lock (README, "What the embedded default holds").
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    # Threads of one process that want the write lock queue here, and each is woken as soon as the one before it
    # commits. Left to SQLite alone they would poll, sleeping up to 100 ms between tries while newcomers took the
    # lock first: with 50 submitters some requests waited 13 s. (The worker, another process, still meets them in
    # SQLite's own busy wait; its batches are short.)
    gate = threading.RLock()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        statement = begin_statement()
        asked = time.perf_counter()
        if statement == "BEGIN IMMEDIATE" and gate.acquire(timeout=BUSY_TIMEOUT_MS / 1000):
            connection.info[_GATE] = connection.info.get(_GATE, 0) + 1
        queued = time.perf_counter()
        try:
            connection.exec_driver_sql(statement)
        except Exception:
            _leave(connection)
            raise
        waited = time.perf_counter() - asked
        if waited > SLOW_LOCK_S:
            log.info("waited %.2f s for the write lock (%.2f s behind this process's writers, %.2f s for others)",
                     waited, queued - asked, waited - (queued - asked))  # fmt: skip

    def _leave(connection: Connection) -> None:
        held = connection.info.pop(_GATE, 0)
        for _ in range(held):
            gate.release()

    event.listen(engine, "commit", _leave)
    event.listen(engine, "rollback", _leave)


def is_busy_error(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite's "database is locked"/"busy": the write can succeed if tried again."""
    if not isinstance(exc, OperationalError):
        return False
    message = str(getattr(exc, "orig", exc)).lower()
    return "database is locked" in message or "database table is locked" in message or "busy" in message


def begin_statement() -> str:
    """The BEGIN that the SQLite connection issues for the transaction starting now (see the module docstring)."""
    if _write_intent.get():
        return "BEGIN IMMEDIATE"
    if has_request_context() and (request.method not in SAFE_METHODS or g.get(_G_WRITE_INTENT)):
        return "BEGIN IMMEDIATE"
    return "BEGIN"


@contextmanager
def write_intent() -> Iterator[None]:
    """Transactions that begin inside this block take SQLite's write lock up front (and wait for it)."""
    token = _write_intent.set(True)
    try:
        yield
    finally:
        _write_intent.reset(token)


def end_read() -> None:
    """End the session's current (read) transaction so that the next one starts from a fresh snapshot.

    Commits rather than rolls back: a worker has nothing pending at this point, and inside the test suite's outer
    transaction a rollback would discard what the test itself set up.
    """
    if db.session().in_transaction():
        db.session.commit()


def write(block: Callable[[], T], *, what: str = "write", attempts: int = WRITE_ATTEMPTS) -> T:
    """Run ``block`` in its own short write transaction and commit it; when SQLite is busy, roll back and run the
    whole block again (after a pause), up to ``attempts`` times. ``block`` must be safe to run again: it re-reads
    what it changes. Raises the last busy error when every attempt failed (the caller re-queues the work)."""
    end_read()
    for attempt in range(1, attempts + 1):
        asked = time.perf_counter()
        try:
            with write_intent():
                if db.session.get_bind().dialect.name == "sqlite":
                    db.session.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: wait for the write lock now
                got = time.perf_counter()
                result = block()
                db.session.commit()
            held = time.perf_counter() - got
            if held > SLOW_WRITE_S:
                # Everyone else waits this long for the write lock: a batch that needs to be smaller.
                log.warning("%s held the write lock for %.2f s (after waiting %.2f s for it)", what, held, got - asked)
            return result
        except OperationalError as exc:
            db.session.rollback()
            if not is_busy_error(exc) or attempt == attempts:
                raise
            pause = min(WRITE_BACKOFF_MAX_S, 0.05 * 2**attempt) * (0.5 + random.random())  # noqa: S311 - jitter
            log.warning("%s: database busy (attempt %s of %s), trying again in %.2f s", what, attempt, attempts, pause)
            time.sleep(pause)
    raise AssertionError("unreachable")  # pragma: no cover


def commit_or_redo(result: T, redo: Callable[[], T], *, what: str = "write") -> T:
    """Commit the small write a read-only step made on its way (a session's last use noted while loading the user);
    when SQLite refuses it because another connection committed since this transaction read, roll back and make it
    again with :func:`redo` in a short transaction of its own that takes the write lock first. Returns ``result``
    or what ``redo`` returned. For writes outside the view, which :func:`dispatch_with_retry` does not cover."""
    try:
        db.session.commit()
        return result
    except OperationalError as exc:
        db.session.rollback()
        if not is_busy_error(exc):
            raise
    log.info("%s lost the race to write; writing it again with the lock taken first", what)
    return write(redo, what=what)


def discard() -> None:
    """Throw away what this request wrote so far, at its end, instead of committing it (the view still returns its
    response: a form shown again with the row that failed named)."""
    g.setdefault(_G_DISCARD, True)


def _finish_request() -> None:
    if g.pop(_G_DISCARD, False):
        db.session.rollback()
    else:
        db.session.commit()


def dispatch_with_retry(dispatch: Callable[[], T]) -> T:
    """The request's commit point. Run its view and commit once (or roll back after :func:`discard`); when the view
    raised, roll back and re-raise (the error page is rendered with nothing of the request kept). If the view or its
    commit lost the race to write on SQLite, roll back and run it again from the start with the write lock taken up
    front (so the retry waits for the lock instead of failing). Nothing of the failed attempt was committed, and
    tasks it queued were dropped with its rollback."""
    for attempt in range(REQUEST_RETRIES + 1):
        try:
            result = dispatch()
            _finish_request()
            return result
        except OperationalError as exc:
            abandon_request()
            if not is_busy_error(exc) or attempt == REQUEST_RETRIES:
                raise
            g.setdefault(_G_WRITE_INTENT, True)
            log.info("%s %s lost the race to write; running it again (attempt %s)", request.method,
                     request.endpoint, attempt + 2)  # fmt: skip
        except BaseException:
            abandon_request()
            raise
    raise AssertionError("unreachable")  # pragma: no cover


def abandon_request() -> None:
    """Roll back whatever a failed request left in the session, with its :func:`discard` mark: when its view raised
    (above), or when a hook that runs before or after the view raised (the error handler), before its error page."""
    db.session.rollback()
    g.pop(_G_DISCARD, None)


@contextmanager
def command(*, what: str = "command") -> Iterator[None]:
    """A CLI command's (or a demo loader's) transaction: commit when the block ends, roll back if it raised."""
    try:
        yield
        db.session.commit()
    except BaseException:
        db.session.rollback()
        log.info("%s rolled back", what)
        raise


def dialect_insert(table: Any) -> Any:
    """An INSERT that can say ON CONFLICT (SQLite and PostgreSQL both can, in the same words). Typed ``Any``: it is
    either dialect's ``Insert``, whose ``on_conflict_*`` methods and ``excluded`` the two spell alike."""
    dialect = db.session.get_bind().dialect.name
    return (sqlite if dialect == "sqlite" else postgresql).insert(getattr(table, "__table__", table))
