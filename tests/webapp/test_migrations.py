"""Migrations: one head; upgrade → downgrade → upgrade on an empty database; the schema they build is the models'."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select

from submissions import search
from tests.conftest import app_config, service_url
from webapp import create_app
from webapp.extensions import db


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_app(request, tmp_path):
    if request.param == "postgresql":
        url = service_url("COMMINTEL_TEST_POSTGRES_URL", "PostgreSQL")
    else:
        url = f"sqlite:///{tmp_path}/migrations.db"
    app = create_app(app_config(url, tmp_path))
    with app.app_context():
        db.drop_all()
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        yield app
        db.drop_all()
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        # PostgreSQL tests share one database: leave it as the session's ``app`` fixture made it.
        db.create_all()
        db.engine.dispose()


def test_single_head(empty_app):
    script = ScriptDirectory.from_config(empty_app.extensions["migrate"].migrate.get_config())
    assert len(script.get_heads()) == 1, script.get_heads()


def test_upgrade_downgrade_upgrade(empty_app):
    upgrade()
    tables = set(inspect(db.engine).get_table_names())
    assert {"users", "organisations", "areas", "partnerships"} <= tables
    downgrade(revision="base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    upgrade()
    with db.engine.connect() as conn:
        opts = {"compare_type": True, "include_object": lambda obj, name, *_: not search.is_search_object(name)}
        diff = compare_metadata(MigrationContext.configure(conn, opts=opts), db.metadata)
    assert diff == [], f"the migrations and the models differ: {diff}"


def test_the_head_has_the_search_index_and_it_follows_the_rows(empty_app):
    """A batch migration of observations on SQLite copies the table and drops its triggers: the head must have them,
    and they must keep the index (insert, redaction, erasure)."""
    upgrade()
    with db.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            triggers = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
            assert set(search.SQLITE_TRIGGERS) <= triggers
        else:
            indexes = {i["name"] for i in inspect(conn).get_indexes("observations")}
            assert (
                "ix_observations_search" in indexes
                or conn.exec_driver_sql("SELECT 1 FROM pg_indexes WHERE indexname = 'ix_observations_search'").scalar()
            )
    from datetime import date

    from submissions.models import Category, Observation, ObservationKind, ObservationStatus

    category = db.session.scalar(select(Category).limit(1))  # the migrations add the default categories
    db.session.add(Observation(kind=ObservationKind.NEED, category_id=category.id, text="Call Jane about the parcels",
                               period_start=date(2025, 3, 1), status=ObservationStatus.SUBMITTED))  # fmt: skip
    db.session.commit()

    def found(words: str) -> list[int]:
        return list(db.session.scalars(select(Observation.id).where(search.matching(words, db.engine.dialect.name))))

    assert found("parcels") == [], "unredacted text was searchable"
    obs = db.session.scalar(select(Observation))
    obs.redacted_text = "Call [NAME] about the food parcels"
    db.session.commit()
    assert found("parcel") == [obs.id]
    assert found("jane") == []
    db.session.delete(obs)
    db.session.commit()
    assert found("parcel") == []
    db.session.rollback()  # no transaction left open for the teardown's DROP TABLEs to wait on


def test_the_readme_command_migrates_a_fresh_database(tmp_path):
    """`make demo` runs `commintel db upgrade` on a fresh instance folder: the command itself, in its own process."""
    import os
    import sqlite3
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMMINTEL_", "DATABASE_URL", "REDIS_URL"))}
    env.update(
        COMMINTEL_ENV="demo", DATABASE_URL=f"sqlite:///{tmp_path}/fresh.db", COMMINTEL_INSTANCE_DIR=str(tmp_path)
    )
    commintel = Path(sys.executable).with_name("commintel")
    result = subprocess.run(  # noqa: S603 - fixed argument list, no shell
        [str(commintel), "db", "upgrade"], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    app = create_app(app_config(f"sqlite:///{tmp_path}/fresh.db", tmp_path))
    with app.app_context():
        head = ScriptDirectory.from_config(app.extensions["migrate"].migrate.get_config()).get_current_head()
    with sqlite3.connect(tmp_path / "fresh.db") as con:
        assert con.execute("SELECT version_num FROM alembic_version").fetchone()[0] == head
        tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    con.close()
    assert {"observations", "themes", "indicator_values", "briefings", "convening_actions"} <= tables
