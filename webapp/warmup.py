"""Loading, when `commintel serve` starts, what a page would otherwise load on its first request.

Some pages need heavy libraries that are loaded on first use: the composer checks quotes with spaCy (whose import
loads torch through thinc), draws its charts with vl-convert and WeasyPrint's module, and the neighbourhood index
section imports scipy.stats. In a fresh server process the first convenor to open a composer waited about 9 s on
an idle 2-core machine for that (30 s and a browser timeout under load), every later one 0.2 s. Each domain package
registers what to load (:func:`register_warm_up`); `commintel serve` runs it in a background thread of its own
(:func:`warm_up_in_background`) while it starts serving, so nobody waits for it and a page that needs something
before it is loaded simply loads it itself, as before (loads are locked: spaCy's by nlp.models_loader, imports by
Python's import lock). A step that fails is logged by name and the error's kind only, and the others still run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from flask import Flask

log = logging.getLogger(__name__)

WARM_UP_STEPS = "commintel_warm_up_steps"


def register_warm_up(app: Flask, step: Callable[[], object]) -> None:
    """Run ``step()`` (in an app context) when the server starts, in the background."""
    app.extensions.setdefault(WARM_UP_STEPS, []).append(step)


def warm_up(app: Flask) -> dict[str, float]:
    """Run every registered step; returns each step's seconds (a failed step is logged, not raised)."""
    took: dict[str, float] = {}
    with app.app_context():
        for step in app.extensions.get(WARM_UP_STEPS, []):
            name = getattr(step, "__qualname__", repr(step))
            started = time.perf_counter()
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - warming is an optimisation: a page loads what it needs itself
                log.warning("warm-up step %s failed (%s); the first page that needs it loads it", name,
                            type(exc).__name__)  # fmt: skip
                continue
            took[name] = time.perf_counter() - started
    log.info("warmed up in %.1f s: %s", sum(took.values()), ", ".join(f"{n} {s:.1f} s" for n, s in took.items()))
    return took


def warm_up_in_background(app: Flask) -> threading.Thread:
    thread = threading.Thread(target=warm_up, args=(app,), name="commintel-warm-up", daemon=True)
    thread.start()
    return thread
