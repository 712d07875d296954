"""The vocabulary of a redaction: the types of personal data, their placeholders, a :class:`Span` (where a piece of
personal data is, in the original text's offsets) and a :class:`Redaction` (the redacted text with its spans and the
place names found); merging overlapping findings and rendering placeholders. Pure: no Flask, no database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from nlp.redaction.places import PlaceMention

NAME, PHONE, EMAIL, POSTCODE, ADDRESS = "NAME", "PHONE", "EMAIL", "POSTCODE", "ADDRESS"
VEHICLE_REG, HANDLE = "VEHICLE_REG", "HANDLE"
NI_NUMBER, NHS_NUMBER, DATE_OF_BIRTH, CARD_NUMBER, URL = (
    "NI_NUMBER",
    "NHS_NUMBER",
    "DATE_OF_BIRTH",
    "CARD_NUMBER",
    "URL",
)
TYPES = (
    NAME, PHONE, EMAIL, POSTCODE, ADDRESS, NI_NUMBER, NHS_NUMBER, DATE_OF_BIRTH, CARD_NUMBER, URL, VEHICLE_REG, HANDLE,
)  # fmt: skip
PLACEHOLDERS = {t: f"[{t}]" for t in TYPES}
STRUCTURED = (PHONE, EMAIL, POSTCODE, NI_NUMBER, NHS_NUMBER, CARD_NUMBER, VEHICLE_REG, HANDLE)
# When two findings overlap, the merged span takes the type that comes first here.
_PRIORITY = {t: i for i, t in enumerate((EMAIL, URL, CARD_NUMBER, NHS_NUMBER, NI_NUMBER, PHONE, DATE_OF_BIRTH,
                                          VEHICLE_REG, HANDLE, ADDRESS, POSTCODE, NAME))}  # fmt: skip


@dataclass(frozen=True)
class Span:
    """A piece of personal data: ``text[start:end]`` of the original text is of type ``label``."""

    start: int
    end: int
    label: str


@dataclass(frozen=True)
class Redaction:
    """The redacted text, where the personal data was (original offsets), and the area names found."""

    text: str
    spans: tuple[Span, ...] = ()
    places: tuple[PlaceMention, ...] = ()

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for span in self.spans:
            out[span.label] = out.get(span.label, 0) + 1
        return out


def merge(spans: list[Span]) -> list[Span]:
    """Union overlapping spans (and names separated only by spaces); the merged span takes the top-priority type."""
    if not spans:
        return []
    spans = sorted(spans, key=lambda s: (s.start, -s.end))
    merged: list[Span] = [spans[0]]
    for span in spans[1:]:
        last = merged[-1]
        if span.start < last.end:
            label = min(last.label, span.label, key=_PRIORITY.__getitem__)
            merged[-1] = Span(last.start, max(last.end, span.end), label)
        else:
            merged.append(span)
    return merged


def render(text: str, spans: Sequence[Span]) -> str:
    out, pos = [], 0
    for span in spans:
        out.append(text[pos : span.start])
        out.append(PLACEHOLDERS[span.label])
        pos = span.end
    out.append(text[pos:])
    return "".join(out)
