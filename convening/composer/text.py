"""Text helpers of the composer: what makes typed text safe in the Markdown a section writes."""

from __future__ import annotations

import re

MAX_QUOTE_CHARS = 400


def slug(name: str) -> str:
    """The key a group's cells are stored under (``g.<slug>.now``)."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "x"


def trim(text: str) -> str:
    """A quote on one line, cut at a word before MAX_QUOTE_CHARS."""
    text = " ".join(text.split())
    return text if len(text) <= MAX_QUOTE_CHARS else text[: MAX_QUOTE_CHARS - 1].rsplit(" ", 1)[0] + "…"


def cell(text: object) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "/")


def md_escape(text: str) -> str:
    """Quoted text must stay text: Markdown punctuation is escaped (HTML is removed later by sanitising anyway)."""
    out = []
    for ch in text:
        out.append("\\" + ch if ch in "\\`*_{}[]()#+-.!|<>" else ch)
    return "".join(out)
