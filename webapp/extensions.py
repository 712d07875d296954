"""Extensions, created unbound and attached to an app in :func:`webapp.create_app`."""

from __future__ import annotations

import logging
import threading
import time

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import Engine, MetaData, event
from sqlalchemy.orm import DeclarativeBase

# Deterministic constraint names, so Alembic migrations say the same thing on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
# Limits are declared on the routes that need them (sign-in, password reset, public forms); nothing is limited by
# default. Storage comes from RATELIMIT_STORAGE_URI: memory by default, Redis when REDIS_URL is set.
limiter = Limiter(key_func=get_remote_address, default_limits=[])


log = logging.getLogger(__name__)
_GATE = "commintel_write_gate"
SLOW_LOCK_S = 0.5


def tune_sqlite(engine: Engine) -> None:
    """Make SQLite behave like the PostgreSQL we run in production, as far as it can.

    Foreign keys on (cascades work); WAL and a generous busy timeout, so the web process and the embedded worker
    share the file; and real transactions, since Python 3.11's sqlite3 otherwise starts them late and ignores
    SAVEPOINTs (SQLAlchemy's documented recipe).

    Which BEGIN a transaction uses is decided by :func:`webapp.transactions.begin_statement`: deferred (no lock) for
    reading, IMMEDIATE (the write lock up front, waiting for it) for requests that write and for background batches.
    """
    if engine.dialect.name != "sqlite":
        return
    from webapp.transactions import BUSY_TIMEOUT_MS, begin_statement

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
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
    def _on_begin(connection):
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

    def _leave(connection) -> None:
        held = connection.info.pop(_GATE, 0)
        for _ in range(held):
            gate.release()

    event.listen(engine, "commit", _leave)
    event.listen(engine, "rollback", _leave)
