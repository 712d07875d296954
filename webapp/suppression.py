"""The one suppression rule: every count shown anywhere (screen, PDF, export, API) goes through :func:`suppress`.

A count below k (``COMMINTEL_SUPPRESSION_K``, default 5) is shown as "fewer than k" and left out of charts, so that
a small number cannot point to a person. Zero is not suppressed: "none reported" reveals no one.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, has_app_context

DEFAULT_K = 5


def threshold() -> int:
    if has_app_context():
        return int(current_app.config["COMMINTEL_SUPPRESSION_K"])
    return DEFAULT_K


@dataclass(frozen=True)
class Count:
    """A count as it may be shown: ``value`` is None when suppressed."""

    value: int | None
    k: int

    @property
    def suppressed(self) -> bool:
        return self.value is None

    def __str__(self) -> str:
        return f"fewer than {self.k}" if self.value is None else f"{self.value:,}"

    def as_json(self) -> dict:
        return {"value": self.value, "suppressed": self.suppressed, "display": str(self)}


def suppress(count: int, k: int | None = None) -> Count:
    """The displayable form of ``count``: hidden when 0 < count < k."""
    k = threshold() if k is None else k
    if count < 0:
        raise ValueError("a count cannot be negative")
    return Count(None if 0 < count < k else int(count), k)


def chartable(counts: dict, k: int | None = None) -> dict:
    """Only the entries of ``counts`` that may be drawn: suppressed ones are dropped, not drawn as small bars."""
    return {key: n for key, n in counts.items() if not suppress(n, k).suppressed}
