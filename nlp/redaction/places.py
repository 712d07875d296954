"""Place detection: find names of areas (wards and the neighbourhoods people call them by) in free text and suggest
the area an observation is about.

Pure module: plain values in and out, no Flask, no database. The gazetteer is built by the caller from the areas it
has (``Gazetteer.from_areas``); :func:`bristol_aliases` gives the neighbourhood names used in the demo geography.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"  # nlp/data

# spaCy entity labels that may name an area.
PLACE_LABELS = frozenset({"GPE", "LOC", "FAC"})
# Area names that are also everyday words: found only when written with a capital ("Central", not "central heating").
_EVERYDAY = frozenset({"central", "harbourside"})


@dataclass(frozen=True)
class PlaceMention:
    """An area name found in a text: character offsets, the text as written, and the area's code."""

    start: int
    end: int
    text: str
    area_code: str


def normalise(name: str) -> str:
    """Lower case, "Saint"/"St." as "st", no apostrophes, hyphens or repeated spaces: "St. Paul's" -> "st pauls"."""
    name = name.lower().replace("’", "'").replace("'", "").replace(".", " ").replace("-", " ")
    name = re.sub(r"\bsaint\b", "st", name)
    name = re.sub(r"^(the|upper|lower)\s+", "", name.strip())
    name = re.sub(r"\s+(ward|area|estate)$", "", name)
    return re.sub(r"\s+", " ", name).strip()


def _pattern(name: str) -> str:
    words = []
    for word in re.split(r"[\s-]+", name.strip()):
        if word.lower() in {"st", "st.", "saint"}:
            words.append(r"(?:St\.?|Saint)")
        elif word.lower().endswith("s") and len(word) > 3:
            # "St Pauls" / "St Paul's" / "St Pauls’"
            words.append(re.escape(word[:-1]) + r"['’]?s")
        else:
            words.append(re.escape(word))
    return r"[\s-]+".join(words)


class Gazetteer:
    """Names (and aliases) of areas, each mapped to an area code; finds them in text, longest name first."""

    def __init__(self, names: Mapping[str, str]):
        self._by_key = {normalise(n): code for n, code in names.items() if normalise(n)}
        self.names = sorted(names, key=len, reverse=True)
        self._display = {normalise(n): n for n in self.names}
        if self.names:
            alternatives = "|".join(_pattern(n) for n in self.names)
            self._regex: re.Pattern[str] | None = re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])", re.IGNORECASE)
        else:
            self._regex = None

    @classmethod
    def from_areas(cls, areas: Iterable[tuple[str, str]], aliases: Mapping[str, str] | None = None) -> Gazetteer:
        """Build from ``(code, name)`` pairs; ward names like "Hartcliffe and Withywood" also give their parts.

        ``aliases`` maps a neighbourhood name to the name of one of the areas ("Barton Hill" -> "Lawrence Hill");
        aliases naming an unknown area are ignored.
        """
        names: dict[str, str] = {}
        by_name: dict[str, str] = {}
        for code, name in areas:
            by_name.setdefault(normalise(name), code)  # the first pair given for a name wins, as in ``names``
            names.setdefault(name, code)
            for part in re.split(r"\s+and\s+|\s*&\s*", name):
                if part and part != name:
                    names.setdefault(part, code)
        for alias, area_name in (aliases or {}).items():
            alias_code = by_name.get(normalise(area_name))
            if alias_code is not None:
                names.setdefault(alias, alias_code)
        return cls(names)

    def __len__(self) -> int:
        return len(self._by_key)

    def code_for(self, name: str) -> str | None:
        """The area code of a name as a person or spaCy wrote it ("St. Paul's"), or None."""
        return self._by_key.get(normalise(name))

    def find(self, text: str) -> list[PlaceMention]:
        """Every area name in ``text``, not overlapping, in order."""
        if self._regex is None or not text:
            return []
        found = []
        for m in self._regex.finditer(text):
            written = m.group(0)
            key = normalise(written)
            if key in _EVERYDAY and not written[:1].isupper():
                continue
            code = self._by_key.get(key)
            if code is not None:
                found.append(PlaceMention(m.start(), m.end(), written, code))
        return found


def detect_places(text: str, gazetteer: Gazetteer, entities: Iterable[tuple[int, int, str]] = ()) -> list[PlaceMention]:
    """Area names in ``text``: gazetteer matches, plus spaCy GPE/LOC/FAC entities ``(start, end, label)`` whose
    normalised text names an area (catches spellings the patterns miss, e.g. "the St. Pauls area")."""
    mentions = gazetteer.find(text)
    taken = [(m.start, m.end) for m in mentions]
    for start, end, label in entities:
        if label not in PLACE_LABELS or any(s < end and start < e for s, e in taken):
            continue
        code = gazetteer.code_for(text[start:end])
        if code is not None:
            mentions.append(PlaceMention(start, end, text[start:end], code))
            taken.append((start, end))
    return sorted(mentions, key=lambda m: m.start)


def suggest_area(mentions: Sequence[PlaceMention]) -> str | None:
    """The area mentioned most often; on a tie, the one mentioned first. None when no area is mentioned."""
    if not mentions:
        return None
    counts = Counter(m.area_code for m in mentions)
    first: dict[str, int] = {}
    for i, m in enumerate(mentions):
        first.setdefault(m.area_code, i)
    return max(counts, key=lambda code: (counts[code], -first[code]))


def bristol_aliases() -> dict[str, str]:
    """Neighbourhood names Bristol people use, each mapped to the name of its 2019 ward (nlp/data)."""
    with (DATA / "bristol_neighbourhoods.csv").open(encoding="utf-8", newline="") as fh:
        return {row["neighbourhood"]: row["ward"] for row in csv.DictReader(fh)}
