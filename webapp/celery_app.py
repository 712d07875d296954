"""The Celery app: tasks run inside an app context (Flask's Celery pattern).

Production: REDIS_URL names the broker and result store, and any number of workers on any number of machines run
`celery -A webapp.worker worker`. Embedded default (no REDIS_URL): kombu's SQLAlchemy transport on an SQLite file
under instance/, with the worker started by `commintel serve`, so a small organisation has no server to install.
"""

from __future__ import annotations

from celery import Celery, Task
from flask import Flask


def celery_init_app(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.name, task_cls=FlaskTask)
    celery.conf.update(
        broker_url=app.config["CELERY_BROKER_URL"],
        result_backend=app.config["CELERY_RESULT_BACKEND"],
        broker_connection_retry_on_startup=True,
        # The SQLite transport polls once a second (kombu's default). Its transport options go straight to
        # create_engine, so none are set here.
        task_acks_late=True,
        worker_prefetch_multiplier=1,
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
    return celery
