"""Entry point for Celery workers: `celery -A webapp.worker worker`.

A worker that shares a machine with the site runs at a lower processor priority: ``COMMINTEL_WORKER_NICE`` (0-19)
is added to its niceness before the app (and any thread) exists, so every thread it starts, ONNX Runtime's
included, inherits it. `commintel serve` sets it for the embedded worker it starts (``EMBEDDED_WORKER_NICE``); set it
yourself for a Celery worker on the web server's machine with PostgreSQL + Redis. On a small machine a person
waiting for a page comes before a batch of redaction, which only takes a little longer (docs/reliability.md).
"""

import os

from webapp import create_app
from webapp.config import parse_niceness

NICE_VARIABLE = "COMMINTEL_WORKER_NICE"


try:
    _nice = parse_niceness(os.environ.get(NICE_VARIABLE))
except ValueError as exc:  # the same check as start-up's, before any thread exists
    raise SystemExit(f"{NICE_VARIABLE} {exc}") from None
if _nice:
    os.nice(_nice)

flask_app = create_app()
celery = flask_app.extensions["celery"]
