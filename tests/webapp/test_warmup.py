"""`commintel serve` loads in the background what first pages would load (webapp/warmup.py): in a fresh process
the composer's first request took about 9 s on an idle 2-core machine (spaCy, WeasyPrint, the Vega renderer,
scipy.stats), and a browser journey timed out on it under load."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

from flask import Flask

from webapp import warmup

_PROBE = """
import json, sys, tempfile
from tests.conftest import app_config
from webapp import create_app, warmup
from nlp import models_loader

folder = tempfile.mkdtemp()
app = create_app(app_config(f"sqlite:///{folder}/probe.db", folder))
heavy = ("spacy", "weasyprint", "vl_convert", "scipy.stats")
before = [m for m in heavy if m in sys.modules] + [models_loader._load.cache_info().currsize]
took = warmup.warm_up(app)
after = [m for m in heavy if m in sys.modules] + [models_loader._load.cache_info().currsize]
print(json.dumps({"before": before, "after": after, "steps": sorted(took)}))
"""


def test_the_warm_up_loads_what_the_composer_and_index_pages_load_in_a_fresh_process():
    done = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=600, check=True
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["before"] == [0], result  # nothing of it is loaded by creating the app
    assert result["after"] == ["spacy", "weasyprint", "vl_convert", "scipy.stats", 1], result
    assert result["steps"] == ["_warm_up_composer", "_warm_up_index"], result


def test_a_failing_step_is_logged_by_name_and_the_others_still_run(caplog):
    app = Flask("probe")
    ran = []

    def broken():
        raise OSError("a secret path /home/x")

    def fine():
        ran.append(True)

    warmup.register_warm_up(app, broken)
    warmup.register_warm_up(app, fine)
    with caplog.at_level(logging.INFO, logger="webapp.warmup"):
        took = warmup.warm_up(app)
    assert ran == [True]
    assert list(took) == [fine.__qualname__]
    messages = [r.getMessage() for r in caplog.records]
    assert any("broken failed (OSError)" in m for m in messages), messages
    assert not any("secret" in m for m in messages)  # the kind of error, not its text
