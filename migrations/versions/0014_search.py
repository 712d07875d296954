"""Search: full-text search over observations' redacted text (issue 14: the list ignored ``?q=``).

- SQLite: an FTS5 table ``observation_search`` (external content: it stores no text of its own; porter stemming)
  over ``observations.redacted_text``, three triggers that keep it (insert, update of the redacted text, delete),
  and a rebuild from the rows already stored.
- PostgreSQL: a GIN index ``ix_observations_search`` on ``to_tsvector('english', coalesce(redacted_text, ''))``.

The statements are those of ``submissions.search`` (which creates the same for ``create_all`` databases), written
out here because migrations import nothing from the app. A later batch migration of ``observations`` on SQLite
drops the triggers with the old table: recreate them there (tests/webapp/test_migrations.py checks the head).

Revision ID: 0014_search
Revises: 0012_reliability
"""

from alembic import op

revision = "0014_search"
down_revision = "0012_reliability"
branch_labels = None
depends_on = None

SQLITE = (
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
POSTGRESQL = (
    "CREATE INDEX IF NOT EXISTS ix_observations_search ON observations "
    "USING gin (to_tsvector('english', coalesce(redacted_text, '')))",
)


def upgrade():
    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": SQLITE, "postgresql": POSTGRESQL}.get(dialect, ()):
        op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for trigger in ("observation_search_ai", "observation_search_ad", "observation_search_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS observation_search")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_observations_search")
