"""Migrations: one head; upgrade → downgrade → upgrade on an empty database; the schema they build is the models'."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

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
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata)
    assert diff == [], f"the migrations and the models differ: {diff}"
