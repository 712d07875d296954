"""Entry point for Celery workers: `celery -A webapp.worker worker`.

A worker that shares a machine with the site runs at a lower processor priority: ``COMMINTEL_WORKER_NICE`` (0-19)
is added to its niceness before the app (and any thread) exists, so every thread it starts, ONNX Runtime's
included, inherits it. `commintel serve` sets it for the embedded worker it starts (``EMBEDDED_WORKER_NICE``); set it
yourself for a Celery worker on the web server's machine with PostgreSQL + Redis. On a small machine a person
waiting for a page comes before a batch of redaction, which only takes a little longer (docs/reliability.md).
"""

import os

from webapp import create_app

NICE_VARIABLE = "COMMINTEL_WORKER_NICE"


def _niceness(value: str) -> int:
    try:
        nice = int(value)
    except ValueError:
        nice = -1
    if not 0 <= nice <= 19:
        raise SystemExit(f"{NICE_VARIABLE} must be a whole number from 0 to 19, not {value!r}")
    return nice


if os.environ.get(NICE_VARIABLE, "").strip():
    os.nice(_niceness(os.environ[NICE_VARIABLE].strip()))

flask_app = create_app()
celery = flask_app.extensions["celery"]
