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
from webapp.transactions import dispatch_with_retry, write, write_intent


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


def test_reading_takes_no_lock_and_a_request_that_writes_takes_it_when_its_transaction_begins(tmp_path):
    path = tmp_path / "app.db"
    app = create_app(app_config(f"sqlite:///{path}", tmp_path))
    with app.app_context():
        db.create_all()
        db.session.scalar(select(func.count()).select_from(Area))
        assert _write_lock_free(path), "outside a request (worker, CLI) a read leaves the write lock free"
        db.session.rollback()
    with app.test_request_context("/"):
        db.session.scalar(select(func.count()).select_from(Area))
        assert _write_lock_free(path), "a page that only reads never holds up the worker (nor waits for it)"
        db.session.rollback()
    with app.test_request_context("/", method="POST"):
        db.session.scalar(select(func.count()).select_from(Area))
        assert not _write_lock_free(path), "a POST's transaction must begin IMMEDIATE"
        db.session.rollback()
        assert _write_lock_free(path)
    with app.app_context(), write_intent():
        db.session.scalar(select(func.count()).select_from(Area))
        assert not _write_lock_free(path), "a background batch that will write takes the lock up front"
        db.session.rollback()
    with app.app_context():
        db.engine.dispose()


def _worker_writes(path, code: str) -> None:
    worker = sqlite3.connect(path, timeout=10, isolation_level=None)
    worker.execute("INSERT INTO areas (code, name, level) VALUES (?, 'Elsewhere', 'ward')", (code,))
    worker.close()


def test_a_request_writes_although_the_worker_wrote_between_its_read_and_its_write(tmp_path):
    """The failure this prevents: a deferred read snapshot cannot be upgraded once another writer has committed, so
    the request would fail with "database is locked" (a 500 on sign-in while the worker redacts)."""
    path = tmp_path / "app.db"
    app = create_app(app_config(f"sqlite:///{path}", tmp_path))
    with app.app_context():
        db.create_all()

    with app.test_request_context("/", method="POST"):
        assert db.session.scalar(select(func.count()).select_from(Area)) == 0
        worker = threading.Thread(target=_worker_writes, args=(path, "E05999999"))
        worker.start()
        time.sleep(0.3)  # the worker waits for the request (IMMEDIATE)
        db.session.add(Area(code="E05999998", name="Somewhere", level=AreaLevel.WARD))
        db.session.commit()
    worker.join(timeout=15)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Area)) == 2
        db.engine.dispose()


def test_a_page_that_reads_then_writes_runs_again_when_it_lost_the_race(tmp_path):
    """GET pages begin deferred (they mostly read). One that also writes (an audit record) after the worker
    committed cannot upgrade its snapshot: it is rolled back and run again, with the write lock taken up front."""
    path = tmp_path / "app.db"
    app = create_app(app_config(f"sqlite:///{path}", tmp_path))
    with app.app_context():
        db.create_all()
    attempts = []

    def view():
        attempts.append(db.session.scalar(select(func.count()).select_from(Area)))
        if len(attempts) == 1:
            _worker_writes(path, "E05999999")  # committed after this request's snapshot was taken
        db.session.add(Area(code=f"E0599990{len(attempts)}", name="Somewhere", level=AreaLevel.WARD))
        db.session.commit()
        return "ok"

    with app.test_request_context("/"):
        assert dispatch_with_retry(view) == "ok"
    assert attempts == [0, 1], "the first attempt lost the race; the second saw the worker's row and wrote"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Area)) == 2
        db.engine.dispose()


def test_background_writes_wait_for_the_lock_and_commit(tmp_path):
    path = tmp_path / "app.db"
    app = create_app(app_config(f"sqlite:///{path}", tmp_path))
    with app.app_context():
        db.create_all()
        db.session.scalar(select(func.count()).select_from(Area))  # a read snapshot, as a worker has after reading
        _worker_writes(path, "E05999999")

        def block():
            db.session.add(Area(code="E05999998", name="Somewhere", level=AreaLevel.WARD))

        write(block)
        assert db.session.scalar(select(func.count()).select_from(Area)) == 2
        db.engine.dispose()
