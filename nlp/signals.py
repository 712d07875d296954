"""Signals of the NLP package (packages above listen; nlp never imports them).

- ``observations_redacted``: sender is the Flask app; ``ids: list[int]`` of observations whose redacted text was
  just written (after the redaction task's commit). The theme assignment task listens to it; it also listens to
  ``submissions.signals.observations_saved`` and waits for the redaction itself, so either order is safe.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

observations_redacted = _signals.signal("observations-redacted")
