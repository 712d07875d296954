"""Demo step of the NLP package (`commintel demo` finds it by the package's name and calls :func:`load` inside one
transaction after the submissions demo): redaction first, then the themes, which read the redacted text."""

from __future__ import annotations

from nlp.redaction import demo as redaction_demo
from nlp.themes import demo as themes_demo


def load() -> list[str]:
    """Redact what is not yet redacted, then fit Bristol's themes once; return lines to print."""
    return [*redaction_demo.load(), *themes_demo.load()]
