"""The Celery app the worker-crash test runs as a real worker: commintel's own app (settings from the environment
the test sets) plus one task that is slow the first time it runs, so that the test can kill the worker in the
middle of it."""

from __future__ import annotations

import os
import time
from pathlib import Path

from webapp import create_app
from webapp.jobs import report, running

flask_app = create_app()
celery = flask_app.extensions["celery"]


@celery.task(name="tests.slow_first_time")
def slow_first_time(job_id: str, marker: str, seconds: float) -> dict:
    with running(job_id) as job:
        first = not Path(marker).exists()
        Path(marker).write_text(str(os.getpid()))
        if first:
            report(job, 50, "half way")
            time.sleep(seconds)
        report(job, 90, "Nearly there")
        job.result = {"finished_by": os.getpid()}
    return {}
