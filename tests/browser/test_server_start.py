"""What `commintel serve` does as it starts, read from the served app's log (tests/browser/live_app.py)."""

from __future__ import annotations

import re
import time

from tests.browser import live_app


def test_the_server_loads_what_the_composers_first_request_needs_in_the_background(
    live_server: live_app.LiveApp,
):
    """webapp/warmup.py: spaCy, WeasyPrint, the Vega renderer and scipy.stats are loaded by a thread of the server
    as it starts, not by the first convenor's composer request (9 s idle, a 30 s browser timeout under load)."""
    deadline = time.monotonic() + 180
    line = None
    while line is None and time.monotonic() < deadline:
        line = re.search(r"warmed up in [\d.]+ s: (.*)", live_server.log_path.read_text(errors="replace"))
        if line is None:
            time.sleep(1)
    assert line is not None, f"no warm-up in {live_server.log_path}"
    assert "_warm_up_composer" in line.group(1), line.group(0)
    assert "_warm_up_index" in line.group(1), line.group(0)
