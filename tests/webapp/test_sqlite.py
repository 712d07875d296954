"""The embedded SQLite store shared by the web process and the worker: requests never lose the race to write."""

from __future__ import annotations

import sqlite3
import threading
import time

from sqlalchemy import func, select

from tests.conftest import app_config
from webapp import create_app
from webapp.extensions import db
from webapp.models import Area, AreaLevel


def _write_lock_free(path) -> bool:
    """Whether another connection (the worker, say) could start writing now."""
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc):
            raise
        return False
    finally:
        other.close()


def test_a_request_takes_the_write_lock_when_its_transaction_begins(tmp_path):
    path = tmp_path / "app.db"
    app = create_app(app_config(f"sqlite:///{path}", tmp_path))
    with app.app_context():
        db.create_all()
        db.session.scalar(select(func.count()).select_from(Area))
        assert _write_lock_free(path), "outside a request (worker, CLI) a read leaves the write lock free"
        db.session.rollback()
    with app.test_request_context("/"):
        db.session.scalar(select(func.count()).select_from(Area))
        assert not _write_lock_free(path), "a request's transaction must begin IMMEDIATE"
        db.session.rollback()
        assert _write_lock_free(path)
    with app.app_context():
        db.engine.dispose()


def test_a_request_writes_although_the_worker_wrote_between_its_read_and_its_write(tmp_path):
    """The failure this prevents: a deferred read snapshot cannot be upgraded once another writer has committed, so
    the request would fail with "database is locked" (a 500 on sign-in while the worker redacts)."""
    path = tmp_path / "app.db"
    app = create_app(app_config(f"sqlite:///{path}", tmp_path))
    with app.app_context():
        db.create_all()

    def worker_writes() -> None:
        worker = sqlite3.connect(path, timeout=10, isolation_level=None)
        worker.execute("INSERT INTO areas (code, name, level) VALUES ('E05999999', 'Elsewhere', 'ward')")
        worker.close()

    with app.test_request_context("/"):
        assert db.session.scalar(select(func.count()).select_from(Area)) == 0
        worker = threading.Thread(target=worker_writes)
        worker.start()
        time.sleep(0.3)  # the worker writes now (deferred) or waits for the request (IMMEDIATE)
        db.session.add(Area(code="E05999998", name="Somewhere", level=AreaLevel.WARD))
        db.session.commit()
    worker.join(timeout=15)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Area)) == 2
        db.engine.dispose()
