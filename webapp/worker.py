"""Entry point for Celery workers: `celery -A webapp.worker worker`.

A worker that shares a machine with the site runs at a lower processor priority: ``COMMINTEL_WORKER_NICE`` (0-19)
is added to its niceness before the app (and any thread) exists, so every thread it starts, ONNX Runtime's
included, inherits it. `commintel serve` sets it for the embedded worker it starts (``EMBEDDED_WORKER_NICE``); set it
yourself for a Celery worker on the web server's machine with PostgreSQL + Redis. On a small machine a person
waiting for a page comes before a batch of redaction, which only takes a little longer (docs/reliability.md).
"""

import ctypes
import os
import signal
import sys

from webapp import create_app
from webapp.config import EMBEDDED_PARENT_VARIABLE, parse_niceness

NICE_VARIABLE = "COMMINTEL_WORKER_NICE"
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def stop_with_parent(parent: str | None) -> None:
    """A child of `commintel serve` asks Linux to send it SIGTERM when that process ends, however it ends (a SIGKILL
    or the out-of-memory killer runs no clean-up in it): without this, the worker and the scheduler ran on alone,
    and the next `commintel serve` started a second pair beside them. If the parent is already gone (it died before
    this line), the child stops now."""
    if not parent or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) == 0 and os.getppid() != int(parent):
        raise SystemExit("the commintel serve process that started this one has stopped")


stop_with_parent(os.environ.pop(EMBEDDED_PARENT_VARIABLE, None))  # popped: not passed on to this process's own children


try:
    _nice = parse_niceness(os.environ.get(NICE_VARIABLE))
except ValueError as exc:  # the same check as start-up's, before any thread exists
    raise SystemExit(f"{NICE_VARIABLE} {exc}") from None
if _nice:
    os.nice(_nice)

flask_app = create_app()
celery = flask_app.extensions["celery"]
