"""Refits across workers: the nightly run is split into one job per partnership, one that fails fails alone, and a
partnership's refit never runs twice at once (nlp.themes.refit_lock), on SQLite and PostgreSQL.

The concurrency tests use a real database shared by threads (a SQLite file; a PostgreSQL schema of their own), as
workers share it: the suite's usual fixture wraps each test in one transaction, which would hide exactly these
races. Fits are real (BERTopic with c-TF-IDF words on 60 demo texts, vectors memoised by tests/nlp/conftest.py)."""

from __future__ import annotations

import threading
import uuid
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from nlp.themes import refit as theme_refit
from nlp.themes import refit_lock
from nlp.themes.models import RefitLock, ThemeModel
from nlp.themes.refit_lock import AlreadyRefitting
from nlp.themes.tasks import refit_in_steps, refit_themes
from submissions import operations as submission_ops
from submissions.models import Observation, ObservationStatus, SharingLevel
from tests.conftest import PASSWORD, app_config, service_url, sign_in
from tests.nlp.conftest import demo_texts
from webapp import create_app, jobs
from webapp import operations as webapp_ops
from webapp.extensions import db
from webapp.models import Job, JobStatus, OrgKind, OrgRole, PlatformRole, utcnow

ONE_SOURCE = {"representation": "ctfidf", "term_min_sources": 1}
PER_PARTNERSHIP = 60


def _add_partnership(name: str, slug: str, texts: list[str]) -> int:
    org = webapp_ops.create_organisation(f"{name} members", OrgKind.CHARITY)
    admin = webapp_ops.create_user(f"admin-{slug}@example.org", PASSWORD, organisation=org, org_role=OrgRole.ADMIN)
    convenor = webapp_ops.create_user(f"convenor-{slug}@example.org", PASSWORD, platform_role=PlatformRole.CONVENOR)
    partnership = webapp_ops.create_partnership(name, slug, members=[org], convenors=[convenor])
    agreement = webapp_ops.publish_agreement(partnership, "We share partnership-level observations safely.")
    webapp_ops.accept_agreement(agreement, org, admin)
    category = submission_ops.active_categories()[0]
    for i, text in enumerate(texts):
        db.session.add(
            Observation(
                organisation_id=org.id,
                partnership_id=partnership.id,
                kind="need",
                category_id=category.id,
                sharing_level=SharingLevel.PARTNERSHIP,
                status=ObservationStatus.SUBMITTED,
                text=text,
                redacted_text=text,
                period_start=date(2025, 1 + i % 12, 1),
            )  # fmt: skip
        )
    db.session.flush()
    return partnership.id


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_app(request, tmp_path):
    """An app on a database of its own that several threads share, with two partnerships of 60 observations."""
    schema = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/app.db"
    else:
        base = service_url("COMMINTEL_TEST_POSTGRES_URL", "PostgreSQL")
        schema = f"refit_{uuid.uuid4().hex[:10]}"
        admin_engine = sa.create_engine("postgresql+psycopg://" + base.split("://", 1)[1])
        with admin_engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        url = f"{base}?options=-csearch_path%3D{schema}"
    app = create_app(
        app_config(url, tmp_path, CELERY_TASK_ALWAYS_EAGER=False, COMMINTEL_THEME_PARAMS=ONE_SOURCE, REDIS_URL=None)
    )
    texts = demo_texts()
    with app.app_context():
        db.create_all()
        submission_ops.ensure_default_categories()
        app.config["partnership_ids"] = [
            _add_partnership("Easton Partnership", "easton", texts[:PER_PARTNERSHIP]),
            _add_partnership(
                "Lawrence Hill Partnership", "lawrence-hill", texts[PER_PARTNERSHIP : 2 * PER_PARTNERSHIP]
            ),
        ]
        db.session.commit()
        db.session.remove()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if schema is not None:
        with admin_engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin_engine.dispose()


def _in_thread(app, fn, results: list, index: int) -> threading.Thread:
    def run() -> None:
        with app.app_context():
            try:
                results[index] = fn()
            except Exception as exc:  # noqa: BLE001 - the test inspects what each thread met
                results[index] = exc
            finally:
                db.session.remove()

    return threading.Thread(target=run)


def test_two_workers_refitting_one_partnership_at_once_fit_it_once(shared_app, monkeypatch):
    """Two threads refit the same partnership at the same moment: exactly one fit runs and stores a version; the
    other is skipped with "already being refitted". The fit waits until the other has tried, so they overlap."""
    pid = shared_app.config["partnership_ids"][0]
    real_fit = theme_refit.fit_snapshot
    fits, other_tried, start = [], threading.Event(), threading.Barrier(2)

    def fit_after_the_other_tried(*args, **kwargs):
        fits.append(threading.get_ident())
        assert other_tried.wait(60), "the second refit never came"
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(theme_refit, "fit_snapshot", fit_after_the_other_tried)

    def refit():
        start.wait(30)
        try:
            return refit_in_steps(pid)
        except AlreadyRefitting:
            other_tried.set()
            raise

    results: list = [None, None]
    threads = [_in_thread(shared_app, refit, results, i) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert len(fits) == 1, results
    skipped = [r for r in results if isinstance(r, AlreadyRefitting)]
    assert len(skipped) == 1, results
    assert "already being refitted" in skipped[0].message
    with shared_app.app_context():
        assert (
            db.session.scalar(select(func.count()).select_from(ThemeModel).where(ThemeModel.partnership_id == pid)) == 1
        )
        assert db.session.scalar(select(func.count()).select_from(RefitLock)) == 0  # released
        db.session.remove()


def test_many_callers_racing_for_the_lock_exactly_one_gets_it(shared_app):
    pid = shared_app.config["partnership_ids"][1]
    n, start = 6, threading.Barrier(6)
    results: list = [None] * n

    def take():
        start.wait(30)
        return refit_lock.acquire(pid)

    threads = [_in_thread(shared_app, take, results, i) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    held = [r for r in results if isinstance(r, refit_lock.Held)]
    assert len(held) == 1, results
    assert all(isinstance(r, AlreadyRefitting) for r in results if r is not held[0])
    with shared_app.app_context():
        refit_lock.release(held[0])
        assert db.session.scalar(select(func.count()).select_from(RefitLock)) == 0
        db.session.remove()


def _lock_row(pid: int, owner: str, expires_in: timedelta, job_id: str | None = None) -> None:
    now = utcnow()
    db.session.add(RefitLock(partnership_id=pid, owner=owner, token=uuid.uuid4().hex, job_id=job_id,
                             acquired_at=now - timedelta(minutes=30), expires_at=now + expires_in))  # fmt: skip
    db.session.commit()


def test_a_lock_left_by_a_dead_worker_expires_and_is_taken_over(shared_app):
    """A worker on another machine died holding the lock: while it has not expired, refits are skipped with the
    reason on the job page; once expired, the next refit takes it over and fits."""
    pid = shared_app.config["partnership_ids"][0]
    with shared_app.app_context():
        _lock_row(pid, "other-host 4242 abc", timedelta(minutes=5))
        job = jobs.enqueue("themes.refit", refit_themes, pid)
        db.session.commit()
        job_id = job.id
        db.session.remove()
        refit_themes.run(job_id, pid)
        job = db.session.get(Job, job_id)
        assert job.status is JobStatus.DONE
        assert "already being refitted" in job.message
        assert job.result["skipped"][0]["partnership_id"] == pid
        assert db.session.scalar(select(func.count()).select_from(ThemeModel)) == 0
        db.session.remove()

        db.session.execute(sa.update(RefitLock).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        report = refit_in_steps(pid)
        assert report.version == 1
        assert db.session.scalar(select(func.count()).select_from(RefitLock)) == 0
        db.session.remove()


def test_a_job_run_again_after_its_worker_died_takes_its_own_lock_back(shared_app):
    """recover_interrupted runs a job again when its worker died: the new run must not be skipped by the lock the
    dead run left (it would wait for the expiry, and the night's refit would be lost)."""
    pid = shared_app.config["partnership_ids"][1]
    with shared_app.app_context():
        job = jobs.enqueue("themes.refit", refit_themes, pid)
        db.session.commit()
        job_id = job.id
        _lock_row(pid, "other-host 4242 abc", timedelta(minutes=9), job_id=job_id)
        db.session.remove()
        refit_themes.run(job_id, pid)
        job = db.session.get(Job, job_id)
        assert job.status is JobStatus.DONE, job.message
        assert job.result["refitted"][0]["version"] == 1
        db.session.remove()


def test_a_holder_whose_lock_was_taken_over_stores_nothing(shared_app, monkeypatch):
    """A worker that stalled past the expiry while fitting: another took the lock over; the stalled one's fit is
    not stored (the check is in the storing transaction) and the previous version stays active."""
    pid = shared_app.config["partnership_ids"][0]
    real_fit = theme_refit.fit_snapshot

    def fit_then_lose_the_lock(*args, **kwargs):
        result = real_fit(*args, **kwargs)
        db.session.execute(sa.update(RefitLock).values(token="someone-else", owner="other-host 1 x"))
        db.session.commit()
        return result

    monkeypatch.setattr(theme_refit, "fit_snapshot", fit_then_lose_the_lock)
    with shared_app.app_context():
        with pytest.raises(refit_lock.RefitLockLost):
            refit_in_steps(pid)
        assert db.session.scalar(select(func.count()).select_from(ThemeModel)) == 0
        db.session.remove()


def test_refit_all_sends_one_job_per_partnership_and_one_failure_leaves_the_others_refitted(shared_app, monkeypatch):
    """The nightly run sends one task per partnership (each its own job, which any worker takes); one partnership's
    fit breaks: its job fails with the reason visible, the other partnership is refitted, the parent lists both."""
    from celery.app.task import Task

    easton, lawrence_hill = shared_app.config["partnership_ids"]
    sent: list[tuple] = []
    monkeypatch.setattr(Task, "apply_async", lambda self, args=None, **kw: sent.append((self.name, tuple(args))))
    real_fit = theme_refit.fit_snapshot

    def fit(snap, *args, **kwargs):
        if snap.partnership_id == easton:
            raise RuntimeError("the model broke")
        return real_fit(snap, *args, **kwargs)

    monkeypatch.setattr(theme_refit, "fit_snapshot", fit)
    with shared_app.app_context():
        refit_themes.run(None, None)  # what beat sends: no job, every partnership
        parent = db.session.scalar(select(Job).where(Job.parent_id.is_(None)))
        parts = jobs.parts_of(parent)
        assert [(p.label, p.args, p.status) for p in parts] == [
            ("Easton Partnership", [easton], JobStatus.QUEUED),
            ("Lawrence Hill Partnership", [lawrence_hill], JobStatus.QUEUED),
        ]
        assert sorted(sent) == sorted(("nlp.refit_themes", (p.id, *p.args)) for p in parts)
        assert parent.status is JobStatus.RUNNING
        assert parent.worker == jobs.PARTS
        # A redelivered message of the parent does not split it again (the worker's task class ignores it).
        assert refit_themes(parent.id, None) is None
        assert len(jobs.parts_of(parent)) == 2
        db.session.remove()

    # Two workers take a part each, at the same time.
    results: list = [None, None]
    threads = [
        _in_thread(shared_app, lambda p=p: refit_themes.run(p.id, p.args[0]), results, i) for i, p in enumerate(parts)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert isinstance(results[0], RuntimeError)
    with shared_app.app_context():
        failed, done = (db.session.get(Job, p.id) for p in parts)
        assert failed.status is JobStatus.FAILED
        assert "RuntimeError" in failed.message
        assert done.status is JobStatus.DONE
        assert done.result["refitted"][0]["version"] == 1
        models = db.session.execute(select(ThemeModel.partnership_id, ThemeModel.active)).all()
        assert models == [(lawrence_hill, True)]
        parent = db.session.get(Job, parent.id)
        assert parent.status is JobStatus.FAILED
        assert parent.message == "1 of 2 done; 1 failed (Easton Partnership)."
        assert [p["status"] for p in parent.result["parts"]] == ["failed", "done"]
        # The job page lists the parts with their state.
        db.session.remove()
    client = shared_app.test_client()
    with shared_app.app_context():
        admin = webapp_ops.create_user("admin@example.org", PASSWORD, platform_role=PlatformRole.ADMIN)
        db.session.commit()
        sign_in(client, admin)
        db.session.remove()
    page = client.get(f"/jobs/{parent.id}").get_data(as_text=True)
    assert "Easton Partnership" in page
    assert "Lawrence Hill Partnership" in page
    assert "1 failed (Easton Partnership)" in page
    state = client.get(f"/jobs/{parent.id}?format=json").get_json()
    assert [(p["label"], p["status"]) for p in state["parts"]] == [
        ("Easton Partnership", "failed"),
        ("Lawrence Hill Partnership", "done"),
    ]


def test_a_waiting_parent_is_settled_by_the_recovery_sweep_and_never_run_again(shared_app, monkeypatch):
    """The parent waits for its parts without a worker: the minute's sweep neither queues it again (it would split
    twice) nor leaves it running for ever when the last part's own settling was missed."""
    from celery.app.task import Task

    monkeypatch.setattr(Task, "apply_async", lambda self, *a, **kw: None)
    with shared_app.app_context():
        refit_themes.run(None, None)
        parent = db.session.scalar(select(Job).where(Job.parent_id.is_(None)))
        parent_id = parent.id
        db.session.execute(sa.update(Job).where(Job.id == parent_id).values(heartbeat_at=utcnow() - timedelta(hours=1)))
        db.session.commit()
        out = jobs.recover_interrupted()
        assert parent_id not in out["requeued"] + out["failed"]
        assert db.session.get(Job, parent_id, populate_existing=True).status is JobStatus.RUNNING
        # Both parts end without settling the parent (as if the worker died between the two writes).
        db.session.execute(
            sa.update(Job).where(Job.parent_id == parent_id).values(status=JobStatus.DONE, finished_at=utcnow())
        )
        db.session.commit()
        jobs.recover_interrupted()
        parent = db.session.get(Job, parent_id, populate_existing=True)
        assert parent.status is JobStatus.DONE
        assert parent.message == "2 of 2 done."
        db.session.remove()


def test_a_partnership_deleted_before_its_refit_ran_is_skipped_not_failed(shared_app):
    with shared_app.app_context():
        job = jobs.enqueue("themes.refit", refit_themes, 10_000_000)
        db.session.commit()
        job_id = job.id
        db.session.remove()
        refit_themes.run(job_id, 10_000_000)
        job = db.session.get(Job, job_id)
        assert job.status is JobStatus.DONE
        assert job.message == "The partnership no longer exists; nothing was refitted."
        assert db.session.scalar(select(func.count()).select_from(RefitLock)) == 0
        db.session.remove()
