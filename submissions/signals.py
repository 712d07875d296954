"""Signals the packages above listen to, so that submissions never imports them.

Both are sent by :mod:`submissions.operations` inside the caller's transaction, after a flush (the rows exist and
have ids, nothing is committed yet). Receivers that do heavy work should defer it with
``webapp.jobs.send_after_commit(task, ids)`` so that a rolled-back import never triggers it; receivers that delete
derived rows (on erasure) should do so at once, in the same transaction, so erasure is all-or-nothing.

- ``observations_saved``: sender is the Flask app; ``ids: list[int]`` of observations created or whose text changed
  (their ``redacted_text`` has been cleared: redact them again); ``created: bool``, true when they are all new (no
  derived rows of theirs can exist yet, so there is nothing to delete).
- ``observation_erased``: sender is the Flask app; ``id: int`` of the observation being erased (still present in
  the session; it is deleted right after the signal returns). Remove everything derived from it.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

observations_saved = _signals.signal("observations-saved")
observation_erased = _signals.signal("observation-erased")
