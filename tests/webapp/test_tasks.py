"""Background work: a real task round-trip on the embedded SQLite queue and on Redis."""

from __future__ import annotations

import threading

import pytest
from celery.contrib.testing.worker import start_worker
from sqlalchemy import func, select

import webapp.cli
from tests.conftest import app_config, service_url
from webapp import create_app, jobs
from webapp.extensions import db
from webapp.models import Job, JobStatus
from webapp.tasks import check_round_trip


def _round_trip(app) -> None:
    celery = app.extensions["celery"]
    with app.app_context():
        db.create_all()
        from webapp import demo, geography

        geography.load_lookup(demo.DATA / "bristol_lsoa11_ward19_lad19_lookup.csv", demo.BRISTOL)
        job = jobs.enqueue("check", check_round_trip)
        job_id = job.id
        db.session.commit()  # the task is sent only now
        with start_worker(celery, pool="threads", concurrency=1, perform_ping_check=False, shutdown_timeout=10):
            result = celery.AsyncResult(job_id).get(timeout=30)
        assert result == {"areas": 298}
        db.session.expire_all()
        job = db.session.get(Job, job_id)
        assert job.status is JobStatus.DONE
        assert job.progress == 100
        assert job.result == {"areas": 298}
        db.drop_all()
        db.engine.dispose()


@pytest.mark.timeout(90)
def test_round_trip_on_the_embedded_sqlite_queue(tmp_path):
    app = create_app(app_config(f"sqlite:///{tmp_path}/app.db", tmp_path, CELERY_TASK_ALWAYS_EAGER=False))
    assert app.extensions["celery"].conf.broker_url.startswith("sqlite-queue:///")
    _round_trip(app)


@pytest.mark.redis
@pytest.mark.timeout(90)
def test_round_trip_on_redis(tmp_path):
    url = service_url("COMMINTEL_TEST_REDIS_URL", "Redis")
    app = create_app(
        app_config(f"sqlite:///{tmp_path}/app.db", tmp_path, REDIS_URL=url, CELERY_TASK_ALWAYS_EAGER=False)
    )
    assert app.extensions["celery"].conf.broker_url == url
    _round_trip(app)


def test_jobs_are_sent_only_after_commit(app, db_session, monkeypatch):
    sent = []
    monkeypatch.setattr(check_round_trip, "apply_async", lambda **kw: sent.append(kw))
    job = jobs.enqueue("check", check_round_trip)
    assert sent == []
    db.session.rollback()
    assert sent == [], "a rolled-back job is never sent"
    job = jobs.enqueue("check", check_round_trip)
    db.session.commit()
    assert [s["task_id"] for s in sent] == [job.id]
    assert threading.active_count() >= 1


def test_work_done_inline_sends_nothing_after_commit(app, db_session, monkeypatch):
    sent = []
    monkeypatch.setattr(check_round_trip, "apply_async", lambda **kw: sent.append(kw))
    with jobs.work_done_inline():
        jobs.send_after_commit(check_round_trip, "inline")
        db.session.commit()
    assert sent == []
    jobs.send_after_commit(check_round_trip, "queued")
    db.session.commit()
    assert [s["args"] for s in sent] == [("queued",)]


def test_the_demo_queues_no_background_work_it_does_itself(app, db_session, monkeypatch):
    """`commintel demo` redacts and fits themes itself: the observations it saves must not queue the same work."""
    from nlp import pipeline
    from nlp.redaction import tasks as redaction_tasks
    from nlp.themes import tasks as theme_tasks
    from submissions.models import Observation

    sent = []
    for task in (pipeline.process_pending, redaction_tasks.redact_observations, theme_tasks.assign_new_observations):
        monkeypatch.setattr(task, "apply_async", lambda task=task, **kw: sent.append(task.name))
    monkeypatch.setattr(webapp.cli, "DOMAIN_PACKAGES", ("submissions",))
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(func.count()).select_from(Observation)) > 100
    assert sent == []
