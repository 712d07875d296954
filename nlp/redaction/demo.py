"""Demo step of redaction: redact the demo observations (and suggest their areas) that are not redacted yet. Running
it twice changes nothing the second time: only observations without a redaction are touched."""

from __future__ import annotations

from nlp.redaction.operations import redact_observations_now


def load() -> list[str]:
    """Redact what is not yet redacted; return lines to print."""
    count = redact_observations_now(None)
    return [f"Redaction: {count} observations redacted." if count else "Redaction: nothing left to redact."]
