"""Demo step of the NLP package: redact the demo observations (and suggest their areas) that are not redacted yet.

`commintel demo` calls :func:`load` inside one transaction after the submissions demo. Running it twice changes
nothing the second time: only observations without a redaction are touched.
"""

from __future__ import annotations


def load() -> list[str]:
    """Redact what is not yet redacted; return lines to print."""
    lines: list[str] = []
    # redaction ----------------------------------------------------------------------------------------------------
    from nlp.redaction_tasks import redact_observations_now

    count = redact_observations_now(None)
    lines.append(f"Redaction: {count} observations redacted." if count else "Redaction: nothing left to redact.")
    return lines
