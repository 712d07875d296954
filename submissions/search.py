"""Full-text search over the observations a reader may see (the list's ``?q=``).

Words are matched against the **redacted** text, the text anyone who may list an observation may read; the raw text
is searched only where the reader may read it (their own organisation's observations, a resident's own), so a
search never tells anyone that a redacted name or number was there.

- **SQLite** (the embedded default): an FTS5 index ``observation_search`` (porter stemming: "parcels" finds
  "parcel") over ``observations.redacted_text``, kept by triggers on insert, update of the redacted text and
  delete. It holds no text of its own (external content); erasure merges it (``optimize``) so that the deleted
  rows' terms leave its pages, which ``secure_delete`` then zeroes (:mod:`webapp.secure_erase`).
- **PostgreSQL**: a GIN index on ``to_tsvector('english', redacted_text)``, queried with ``plainto_tsquery``.

The index is created by migration ``0014_search`` and, for databases made with ``create_all`` (tests, benchmarks),
by :func:`create_index` after the observations table is created. A later batch migration of ``observations`` on
SQLite copies the table and drops its triggers: ``tests/webapp/test_migrations.py`` checks that the head has them.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Select, and_, event, func, literal_column, or_, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from submissions.models import Observation

MAX_WORDS = 12
SQLITE_TRIGGERS = ("observation_search_ai", "observation_search_ad", "observation_search_au")
SQLITE_DDL = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS observation_search USING fts5("
    "redacted_text, content='observations', content_rowid='id', tokenize='porter unicode61')",
    "CREATE TRIGGER IF NOT EXISTS observation_search_ai AFTER INSERT ON observations "
    "WHEN new.redacted_text IS NOT NULL BEGIN "
    "INSERT INTO observation_search(rowid, redacted_text) VALUES (new.id, new.redacted_text); END",
    "CREATE TRIGGER IF NOT EXISTS observation_search_ad AFTER DELETE ON observations "
    "WHEN old.redacted_text IS NOT NULL BEGIN "
    "INSERT INTO observation_search(observation_search, rowid, redacted_text) "
    "VALUES ('delete', old.id, old.redacted_text); END",
    "CREATE TRIGGER IF NOT EXISTS observation_search_au AFTER UPDATE OF redacted_text ON observations BEGIN "
    "INSERT INTO observation_search(observation_search, rowid, redacted_text) "
    "SELECT 'delete', old.id, old.redacted_text WHERE old.redacted_text IS NOT NULL; "
    "INSERT INTO observation_search(rowid, redacted_text) "
    "SELECT new.id, new.redacted_text WHERE new.redacted_text IS NOT NULL; END",
    "INSERT INTO observation_search(observation_search) VALUES ('rebuild')",
)
POSTGRESQL_DDL = (
    "CREATE INDEX IF NOT EXISTS ix_observations_search ON observations "
    "USING gin (to_tsvector('english', coalesce(redacted_text, '')))",
)


def is_search_object(name: str | None) -> bool:
    """Whether a table or index is the search index's own (not in the models' metadata; migrations/env.py)."""
    return str(name or "").startswith(("observation_search", "ix_observations_search"))


def create_index(connection: Connection) -> None:
    """Create the search index for this database (idempotent; a rebuild fills it from the stored rows)."""
    statements = {"sqlite": SQLITE_DDL, "postgresql": POSTGRESQL_DDL}.get(connection.dialect.name, ())
    for statement in statements:
        connection.exec_driver_sql(statement)


@event.listens_for(Observation.__table__, "after_create")
def _after_create(target, connection, **_) -> None:
    create_index(connection)


def forget_erased(connection: Connection) -> None:
    """After an erasure's delete (its trigger marked the rows' terms deleted): merge the SQLite index into one
    segment, so that no page of it still holds the erased text's terms; ``secure_delete`` zeroes the freed pages
    and the erasure's checkpoint empties the WAL. PostgreSQL's GIN entries go with the erasure's VACUUM."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("INSERT INTO observation_search(observation_search) VALUES ('optimize')")


def words_of(query: str | None) -> list[str]:
    """The words searched for: letters and digits, lower case, at most :data:`MAX_WORDS` (operators are not
    offered: every word must match)."""
    return re.findall(r"\w+", (query or "").lower())[:MAX_WORDS]


def _redacted_match(words: list[str], dialect: str) -> ColumnElement[bool]:
    if dialect == "sqlite":
        # Each word quoted (FTS5 syntax characters lose their meaning) and matched as a prefix: "parcel" finds
        # "parcels"; all words must occur.
        expression = " ".join('"{}"*'.format(w.replace('"', '""')) for w in words)
        ids: Select[Any] = (
            select(literal_column("rowid"))
            .select_from(text("observation_search"))
            .where(text("observation_search MATCH :search_words").bindparams(search_words=expression))
        )
        return Observation.id.in_(ids)
    if dialect == "postgresql":
        document = func.to_tsvector("english", func.coalesce(Observation.redacted_text, ""))
        return document.op("@@")(func.plainto_tsquery("english", " ".join(words)))
    return and_(*(func.lower(Observation.redacted_text).contains(w, autoescape=True) for w in words))


def matching(query: str | None, dialect: str, raw_readable: ColumnElement[bool] | None = None):
    """A condition for observations whose redacted text holds every word of ``query`` (None: no search), or whose
    raw text does where ``raw_readable`` says the reader may read it."""
    words = words_of(query)
    if not words:
        return None
    condition = _redacted_match(words, dialect)
    if raw_readable is not None:
        in_raw = and_(*(func.lower(Observation.text).contains(w, autoescape=True) for w in words))
        condition = or_(condition, and_(raw_readable, in_raw))
    return condition
