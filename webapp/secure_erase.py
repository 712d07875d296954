"""Erasure leaves no bytes behind in the database files: what happens after an erasure commits.

- **SQLite** (the embedded default): every connection runs with ``PRAGMA secure_delete=ON``
  (:func:`webapp.transactions.tune_sqlite`), so deleted rows and freed pages are overwritten with zeros. In WAL mode
  the old page images (with the deleted text) stay in ``commintel.db-wal`` until a checkpoint; after an erasure
  :func:`reclaim_space` runs ``PRAGMA wal_checkpoint(TRUNCATE)``, which copies the pages back into the database and
  truncates the WAL to nothing. A checkpoint cannot finish while another connection is still reading an older
  snapshot; it is tried again, and the task runs again later, until it does.
- **PostgreSQL**: an UPDATE or DELETE leaves the old row version (a dead tuple) in the table file until VACUUM
  removes it; :func:`reclaim_space` vacuums the tables an erasure touched (outside a transaction, as VACUUM must
  run). Plain VACUUM makes the space reusable but the bytes stay on disk until reused; ``VACUUM FULL`` (which
  rewrites the table under an exclusive lock) is left to the operator's maintenance window, and WAL archives and
  backups follow the operator's retention (docs/redaction.md says so).

Nothing here logs text.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from celery import shared_task
from sqlalchemy import text

from webapp.extensions import db
from webapp.transactions import BUSY_TIMEOUT_MS

log = logging.getLogger(__name__)

# Tables an observation's text (or words of it) can reach.
ERASURE_TABLES = (
    "observations",
    "observation_embeddings",
    "theme_assignments",
    "themes",
    "briefings",  # the composition's facts: quotes, group names
    "briefing_sections",
    "briefing_versions",
    "briefing_editions",  # the editions' PDFs
    "audit_events",
    "jobs",
)
CHECKPOINT_TRIES = 4
# A TRUNCATE checkpoint holds SQLite's write lock while it waits for readers to finish: it waits this long (ms) each
# try, not the connections' busy timeout, so writers (submissions, the worker's batches) are held up that long at most.
CHECKPOINT_BUSY_MS = 250


CHECKPOINT_RETRY_SECONDS = 5


def checkpoint_sqlite() -> tuple[int, int, int]:
    """``PRAGMA wal_checkpoint(TRUNCATE)`` on a connection outside any transaction, tried a few times; returns
    SQLite's (busy, log frames, checkpointed frames). ``busy`` stays 1 when another connection kept reading."""
    raw = db.engine.raw_connection()
    try:
        raw.cursor().execute(f"PRAGMA busy_timeout={CHECKPOINT_BUSY_MS}")
        for attempt in range(CHECKPOINT_TRIES):
            cursor = raw.cursor()
            try:
                busy, frames, done = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:
                cursor.close()
            if not busy:
                break
            time.sleep(0.05 * (attempt + 1))
    finally:
        raw.cursor().execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")  # the pooled connection's own again
        raw.close()
    return busy, frames, done


def vacuum_postgresql(tables: Iterable[str]) -> list[str]:
    """VACUUM each existing table of ``tables`` (autocommit: VACUUM cannot run inside a transaction)."""
    existing = set(db.inspect(db.engine).get_table_names())
    done = []
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in tables:
            if table in existing:
                conn.execute(text(f'VACUUM (ANALYZE) "{table}"'))
                done.append(table)
    return done


def reclaim_space(tables: Iterable[str] = ERASURE_TABLES) -> dict:
    """Make erased rows' bytes unreachable in the database files (see the module docstring). Call after commit.
    The result says ``"busy": True`` when SQLite's WAL could not be truncated yet."""
    dialect = db.engine.dialect.name
    if dialect == "sqlite":
        busy, frames, done = checkpoint_sqlite()
        return {"database": "sqlite", "busy": bool(busy), "wal_frames": frames, "checkpointed": done}
    if dialect == "postgresql":
        return {"database": "postgresql", "vacuumed": vacuum_postgresql(tables)}
    return {"database": dialect}


@shared_task(bind=True, name="webapp.reclaim_erased_space", max_retries=12)
def reclaim_erased_space(self) -> dict:
    """Sent after an erasure commits (idempotent: running it again only checkpoints or vacuums again). While a
    reader keeps SQLite's WAL busy, it tries again later."""
    result = reclaim_space()
    if result.get("busy"):
        log.warning("the WAL could not be truncated after an erasure (a reader is active): %s", result)
        if not self.request.is_eager and self.request.retries < self.max_retries:
            raise self.retry(countdown=CHECKPOINT_RETRY_SECONDS * (self.request.retries + 1))
    else:
        log.info("space of erased rows reclaimed: %s", result)
    return result
