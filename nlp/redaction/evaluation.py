"""Scoring redaction against a labelled evaluation set (``tests/data/redaction_eval.jsonl``). Pure: no Flask, no DB.

A piece of personal data counts as caught when every word of it ("and" in "Mr and Mrs Nowak" aside) lies inside
redacted spans, whatever placeholder type they got: a phone number shown as [NHS_NUMBER] is still hidden. A name to
keep counts as kept when no redacted span touches it.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

_WORDS = re.compile(r"\w+")
_JOINERS = frozenset({"and", "of", "the"})


def load_eval(path: Path | str, split: str | None = None) -> list[dict]:
    records = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in records if split is None or r["split"] == split]


@dataclass
class Score:
    found: Counter = field(default_factory=Counter)
    total: Counter = field(default_factory=Counter)
    kept: Counter = field(default_factory=Counter)
    keep_total: Counter = field(default_factory=Counter)
    extra_chars: int = 0
    other_chars: int = 0
    missed: list[tuple[str, str, str]] = field(default_factory=list)  # (record id, type, text)
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (record id, kept name that was redacted)

    def recall(self, kind: str | None = None) -> float:
        found = sum(self.found.values()) if kind is None else self.found[kind]
        total = sum(self.total.values()) if kind is None else self.total[kind]
        return found / total if total else 1.0

    def kept_share(self) -> float:
        total = sum(self.keep_total.values())
        return sum(self.kept.values()) / total if total else 1.0

    def over_redaction(self) -> float:
        """Share of letters and digits outside any personal data that were redacted anyway."""
        return self.extra_chars / self.other_chars if self.other_chars else 0.0


def _covered(start: int, end: int, text: str, spans: Sequence[tuple[int, int]]) -> bool:
    for m in _WORDS.finditer(text, start, end):
        if m.group(0).lower() in _JOINERS:
            continue
        if not any(s <= m.start() and m.end() <= e for s, e in spans):
            return False
    return True


def score(records: Iterable[dict], predictions: Iterable[Sequence[tuple[int, int]]]) -> Score:
    """``predictions`` are, per record, the redacted ``(start, end)`` character ranges of its original text."""
    result = Score()
    for record, spans in zip(records, predictions, strict=True):
        text = record["text"]
        spans = [(s, e) for s, e in spans]
        for pii in record["pii"]:
            result.total[pii["type"]] += 1
            if _covered(pii["start"], pii["end"], text, spans):
                result.found[pii["type"]] += 1
            else:
                result.missed.append((record["id"], pii["type"], pii["text"]))
        for keep in record["keep"]:
            result.keep_total[keep["kind"]] += 1
            if any(s < keep["end"] and keep["start"] < e for s, e in spans):
                result.dropped.append((record["id"], keep["text"]))
            else:
                result.kept[keep["kind"]] += 1
        gold = [(p["start"], p["end"]) for p in record["pii"]]
        for i, ch in enumerate(text):
            if not ch.isalnum() or any(s <= i < e for s, e in gold):
                continue
            result.other_chars += 1
            if any(s <= i < e for s, e in spans):
                result.extra_chars += 1
    return result
