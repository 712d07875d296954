"""What an import reads from a file's cells, before it judges the file: numbers with the markers and footnotes
official tables put beside them, and areas matched by ONS code or by name against the geography loaded."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select

from indicators.readers import ONS_CODE
from webapp.extensions import db
from webapp.models import Area, AreaLevel, AreaVintage

# Markers official tables put where a value is withheld or not available.
SUPPRESSION_MARKERS = frozenset(
    {"..", ".", "c", "x", "*", "-", ":", "z", "~", "u", "low", "[c]", "[x]", "[z]", "[u]", "[low]", "n/a", "na"}
)
_NUMBER = re.compile(r"^[-+]?(\d{1,3}(,\d{3})+|\d+)?(\.\d+)?$")
_FOOTNOTE = re.compile(r"^(?P<num>.*?\d)\s*(?P<note>\[[^\]]*\]|\([a-z0-9 ]+\)|[rpe])$", re.IGNORECASE)

# Codes of the ONS entities each level holds; codes of wider areas (England, regions, counties) that files carry
# as comparators. A row for a code of a level commintel holds but has not loaded is "another place", not a
# misread; a code of any other kind (an MSOA, a CCG) is a row commintel did not understand.
LEVEL_ENTITIES = {
    AreaLevel.LSOA: ("E01", "W01"),
    AreaLevel.WARD: ("E05", "W05"),
    AreaLevel.LAD: ("E06", "E07", "E08", "E09", "W06"),
}
WIDER_ENTITIES = ("E92", "W92", "K02", "K03", "K04", "E12", "E10", "E11", "E13", "E47", "S92", "N92")


def normalise_name(name: str) -> str:
    """Area names as published vary ("Bristol, City of", "Bristol City of", "City of Bristol"): compare word sets."""
    words = re.sub(r"[^a-z0-9]+", " ", name.lower().replace("&", " and ")).split()
    return " ".join(sorted(w for w in words if w))


def parse_number(text: str) -> tuple[float | None, bool, str]:
    """(value, suppressed, note) from a cell; raises ValueError for text that is neither a number nor a marker."""
    raw = text.strip()
    if raw.lower() in SUPPRESSION_MARKERS:
        return None, True, raw
    note = ""
    if m := _FOOTNOTE.match(raw):
        raw, note = m.group("num"), m.group("note")
    cleaned = raw.replace("%", "").replace("£", "").replace(" ", "").replace("\u00a0", "")
    if not cleaned or not _NUMBER.match(cleaned) or cleaned in {"+", "-", "."}:
        raise ValueError(f"{text!r} is not a number or a suppression marker")
    return float(cleaned.replace(",", "")), False, note


def parse_int(text: str, what: str, low: int, high: int) -> int | None:
    if not text:
        return None
    if text.isdigit():  # the common case, kept fast: a full England IoD file has half a million ranks and deciles
        whole = int(text)
        if not low <= whole <= high:
            raise ValueError(f"{what} {text!r} is outside {low}–{high}")
        return whole
    try:
        number = float(text.replace(",", ""))
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a number") from None
    if not number.is_integer() or not low <= number <= high:
        raise ValueError(f"{what} {text!r} is outside {low}–{high}")
    return int(number)


def parse_optional(text: str) -> float | None:
    try:
        return float(text.replace(",", "")) if text.strip() else None
    except ValueError:
        return None


@dataclass
class AreaMatcher:
    """The areas stored, by code and by (normalised) name per level, to match a file's area column against."""

    by_code: dict[str, tuple[int, AreaLevel]]
    by_name: dict[tuple[str, AreaLevel], list[int]]
    level_of: dict[int, AreaLevel]
    vintages: dict[int, frozenset[int]]
    loaded_levels: set[AreaLevel]

    @classmethod
    def load(cls) -> AreaMatcher:
        by_code: dict[str, tuple[int, AreaLevel]] = {}
        by_name: dict[tuple[str, AreaLevel], list[int]] = {}
        level_of: dict[int, AreaLevel] = {}
        for area_id, code, name, level in db.session.execute(select(Area.id, Area.code, Area.name, Area.level)):
            by_code[code] = (area_id, level)
            by_name.setdefault((normalise_name(name), level), []).append(area_id)
            level_of[area_id] = level
        years: dict[int, set[int]] = {}
        for area_id, year, name in db.session.execute(select(AreaVintage.area_id, AreaVintage.year, AreaVintage.name)):
            years.setdefault(area_id, set()).add(year)
            if name:  # a 2011 LSOA name ("Bristol 023A") still finds the area that now carries another
                key = (normalise_name(name), level_of[area_id])
                if area_id not in by_name.setdefault(key, []):
                    by_name[key].append(area_id)
        return cls(by_code, by_name, level_of, {k: frozenset(v) for k, v in years.items()}, set(level_of.values()))

    def match(self, text: str, level: AreaLevel | None) -> tuple[int | None, str]:
        """(area id, reason when None)."""
        text = text.strip()
        if ONS_CODE.match(text.upper()):
            found = self.by_code.get(text.upper())
            if found is None:
                return None, "unknown area code"
            if level is not None and found[1] is not level:
                return None, f"area is a {found[1].label.lower()}, not a {level.label.lower()}"
            return found[0], ""
        key = normalise_name(text)
        levels = [level] if level is not None else [AreaLevel.LAD, AreaLevel.WARD, AreaLevel.LSOA, AreaLevel.CUSTOM]
        for lv in levels:
            ids = self.by_name.get((key, lv))
            if ids and len(ids) == 1:
                return ids[0], ""
            if ids:
                return None, "area name is ambiguous"
        return None, "area name matched no area"

    def unmatched_kind(self, text: str) -> str:
        """How a row whose area matched nothing counts: "elsewhere", "wider" or "not understood"."""
        code = text.strip().upper()
        if not ONS_CODE.match(code):
            return "not understood"
        if code[:3] in WIDER_ENTITIES:
            return "wider"
        if any(code[:3] in LEVEL_ENTITIES.get(level, ()) for level in self.loaded_levels):
            return "elsewhere"
        return "not understood"
