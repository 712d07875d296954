"""The Celery app: tasks run inside an app context (Flask's Celery pattern).

Production: REDIS_URL names the broker and result store, and any number of workers on any number of machines run
`celery -A webapp.worker worker`. Embedded default (no REDIS_URL): the queue is an SQLite file under instance/
(:mod:`webapp.sqlite_queue`), with the worker started by `commintel serve`, so a small organisation has no server to
install.

Nothing is lost when a worker dies: messages are acknowledged only when their task has finished (``acks_late``), a
message held by a dead worker is delivered again (the embedded queue at once when the worker restarts, Redis after
its visibility timeout), and on start every worker runs the start-up hooks that packages register
(:func:`on_worker_start`): jobs left "running" are queued again or failed (:func:`webapp.jobs.recover_interrupted`),
and work the database says is unfinished is queued again (observations not yet redacted or themed, briefing PDFs
not yet rendered). The same hooks run periodically from beat.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from celery import Celery, Task
from celery.signals import worker_ready
from flask import Flask

from webapp.jobs import JOB_SWEEP_SECONDS, JobNotClaimed, recover_interrupted

log = logging.getLogger(__name__)

EMBEDDED_QUEUE_SCHEME = "sqlite-queue"
# Functions (no arguments, run in an app context) that a worker runs when it starts; packages append to it.
WORKER_START_HOOKS = "commintel_worker_start_hooks"


def celery_init_app(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                try:
                    return self.run(*args, **kwargs)
                except JobNotClaimed as exc:
                    # Delivered twice, or already finished by another worker: nothing to do (tasks are idempotent).
                    log.info("%s: %s", self.name, exc)
                    return None

    celery = Celery(app.name, task_cls=FlaskTask)
    broker_url = app.config["CELERY_BROKER_URL"]
    embedded = broker_url.startswith(f"{EMBEDDED_QUEUE_SCHEME}:")
    celery.conf.update(
        broker_url=broker_url,
        broker_transport="webapp.sqlite_queue:Transport" if embedded else None,
        result_backend=app.config["CELERY_RESULT_BACKEND"],
        broker_connection_retry_on_startup=True,
        # A message is acknowledged when its task has finished, not when it starts: a worker that dies mid-task
        # leaves it to be delivered again. Tasks are idempotent (they take ids and re-read what they need).
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # Progress and results live on Job rows; only tasks that say so store a Celery result.
        task_ignore_result=True,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=3600,
        include=["webapp.tasks"],
        task_always_eager=app.config.get("CELERY_TASK_ALWAYS_EAGER", False),
        task_eager_propagates=True,
    )
    celery.set_default()
    app.extensions["celery"] = celery
    app.extensions[WORKER_START_HOOKS] = []

    register_worker_start_hook(app, recover_interrupted)
    celery.conf.beat_schedule = {
        **(celery.conf.beat_schedule or {}),
        "webapp-recover-jobs": {"task": "webapp.recover_jobs", "schedule": JOB_SWEEP_SECONDS},
    }

    def _on_worker_ready(sender=None, **_):
        if getattr(sender, "app", celery) is celery:
            on_worker_start(app)

    # A weak receiver kept alive by the app: it goes with the app (tests make many apps in one process).
    app.extensions["commintel_worker_ready_receiver"] = _on_worker_ready
    worker_ready.connect(_on_worker_ready)
    return celery


def register_worker_start_hook(app: Flask, hook: Callable[[], object]) -> None:
    """Run ``hook()`` (in an app context) whenever a worker starts, e.g. to queue again what a dead worker left."""
    app.extensions[WORKER_START_HOOKS].append(hook)


def on_worker_start(app: Flask) -> None:
    """Run every start-up hook; one that fails is logged and does not stop the others or the worker."""
    with app.app_context():
        for hook in app.extensions.get(WORKER_START_HOOKS, []):
            try:
                hook()
            except Exception:
                log.exception("worker start-up hook %s failed", getattr(hook, "__name__", hook))
