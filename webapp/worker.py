"""Entry point for Celery workers: `celery -A webapp.worker worker`.

The embedded worker that `commintel serve` starts runs at a lower processor priority (``EMBEDDED_WORKER_NICE``, set
by serve in the child's environment; separate production workers are left as they are): on a small machine, a
person waiting for a page comes before a batch of redaction, which only takes a little longer. Set before the app
(and any thread) exists, so every thread the worker starts, ONNX Runtime's included, inherits it.
"""

import os

from webapp import create_app

NICE_VARIABLE = "COMMINTEL_EMBEDDED_WORKER_NICE"
if os.environ.get(NICE_VARIABLE, "").strip():
    os.nice(int(os.environ[NICE_VARIABLE]))

flask_app = create_app()
celery = flask_app.extensions["celery"]
