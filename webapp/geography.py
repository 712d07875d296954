"""Statistical geography: load ONS lookups (LSOA → ward → local authority) of any vintage, the LSOA 2011 → 2021
bridge, and GeoJSON boundaries into Areas.

Vintages. ONS names lookup columns with the vintage year, in its own spelling (``LSOA11CD``, ``WD19NM``,
``LAD24CD``) or, in copies such as the geographr R package, in snake case (``lsoa21_code``, ``ward24_name``,
``ltla24_code``); both are recognised, never one file's names hard-coded. A code that appears in two vintages is
one area carrying both (:class:`webapp.models.AreaVintage`); its name and parent come from the newest vintage
loaded, so loading the 2011 lookup after the 2021 one adds the 2011 vintage (and the 2011 LSOAs that no longer
exist) without moving anything.

Current and superseded. After each load, per local authority touched: an LSOA or ward is *current* when it
carries the newest vintage of its level loaded for that authority (or carries none: nothing is known about it);
the others are superseded, kept for datasets published on them. A local authority with wards none of which is
current is superseded too. (A reorganised authority's old wards are marked when a lookup of the old authority's
newer vintage is loaded; until then they stay current.)

The bridge. The ONS "LSOA (2011) to LSOA (2021) to Local Authority District (2022)" lookup gives each pair of old
and new LSOAs a change code: U unchanged, S split, M merged, X complex. :func:`load_bridge` stores the pairs
(:class:`webapp.models.AreaChange`); a superseded LSOA whose own ward is superseded is moved under the current
ward of most of its successors, so that datasets of either vintage roll up to current wards.

Loaders are operations: they flush and never commit, so the CLI loads a whole file or nothing.

One module of about 740 lines: it is the one place that writes the geography, and its loaders (lookups, the
bridge, boundaries, the neighbourhood gazetteer, the postcode directory) share its file reader and its rules. Walking
the hierarchy that they load (the areas inside an area, the areas above it) is :mod:`webapp.hierarchy`'s job.
"""

from __future__ import annotations

import csv
import json
import logging
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, insert, select
from sqlalchemy.orm import selectinload

from webapp.extensions import db
from webapp.models import Area, AreaChange, AreaChangeKind, AreaLevel, AreaVintage, Neighbourhood, Postcode
from webapp.operations import OperationError

log = logging.getLogger(__name__)

# ONS spellings (LSOA11CD, WD19NM, LAD24CD, LTLA21CD) and snake-case copies (lsoa21_code, ward24_name, ltla24_code).
_COLUMN = {
    AreaLevel.LSOA: re.compile(r"^lsoa_?(\d\d)_?(cd|nm|code|name)$", re.IGNORECASE),
    AreaLevel.WARD: re.compile(r"^(?:wd|ward)_?(\d\d)_?(cd|nm|code|name)$", re.IGNORECASE),
    AreaLevel.LAD: re.compile(r"^(?:lad|ltla)_?(\d\d)_?(cd|nm|code|name)$", re.IGNORECASE),
}
_CHANGE_COLUMN = re.compile(r"^(chgind|change_?code|change_?indicator)$", re.IGNORECASE)
_HIERARCHY = (AreaLevel.LAD, AreaLevel.WARD, AreaLevel.LSOA)  # parents first
_PLURAL = {AreaLevel.LAD: "local authorities", AreaLevel.WARD: "wards", AreaLevel.LSOA: "LSOAs"}
ONS_CODE = re.compile(r"^[EWSN]\d{8}$")


def vintage_year(two_digits: str) -> int:
    """``11`` → 2011, ``98`` → 1998 (ONS geographies since 1998)."""
    yy = int(two_digits)
    return 2000 + yy if yy < 90 else 1900 + yy


@dataclass(frozen=True)
class LookupColumn:
    code: str
    name: str
    year: int


@dataclass
class LoadReport:
    created: Counter = field(default_factory=Counter)
    updated: Counter = field(default_factory=Counter)
    rows: int = 0
    unmatched: list[str] = field(default_factory=list)
    vintages: dict[AreaLevel, int] = field(default_factory=dict)
    superseded: Counter = field(default_factory=Counter)  # areas found superseded after this load, per level

    def summary(self) -> str:
        parts = []
        for level in _HIERARCHY:
            if not (self.created[level] or self.updated[level] or level in self.vintages):
                continue
            year = f" ({self.vintages[level]})" if level in self.vintages else ""
            parts.append(f"{_PLURAL[level]}{year}: {self.created[level]} new, {self.updated[level]} updated")
        text = "; ".join(parts) or "nothing loaded"
        gone = [f"{n} {_PLURAL[level]}" for level in _HIERARCHY if (n := self.superseded[level])]
        if gone:
            text += f"; superseded by a newer vintage, kept for older datasets: {', '.join(gone)}"
        return text


def find_lookup_columns(header: Sequence[str]) -> dict[AreaLevel, LookupColumn]:
    """The code and name column and the vintage year of each level; refuses a header without all three levels."""
    found: dict[AreaLevel, dict[int, dict[str, str]]] = defaultdict(lambda: defaultdict(dict))
    for name in header:
        for level, pattern in _COLUMN.items():
            if match := pattern.match(name.strip()):
                what = "CD" if match.group(2).lower() in ("cd", "code") else "NM"
                found[level][vintage_year(match.group(1))][what] = name
    columns: dict[AreaLevel, LookupColumn] = {}
    for level, by_year in found.items():
        complete = {year: cols for year, cols in by_year.items() if {"CD", "NM"} <= cols.keys()}
        if len(complete) > 1 and level is AreaLevel.LSOA:
            years = " and ".join(str(y) for y in sorted(complete))
            raise OperationError(
                f"This file has LSOA codes of {years}: it is a bridge between vintages, not a lookup. Load it with "
                "`commintel geography load-bridge FILE`.",
                "file",
            )
        if len(complete) > 1:
            names = ", ".join(cols["CD"] for cols in complete.values())
            raise OperationError(f"The lookup has several {_PLURAL[level]} code columns ({names}).", "file")
        if complete:
            year, cols = next(iter(complete.items()))
            columns[level] = LookupColumn(cols["CD"], cols["NM"], year)
    if set(columns) != set(_HIERARCHY):
        raise OperationError(
            "The lookup needs code and name columns for LSOA, ward and local authority, with their vintage year "
            "(such as LSOA11CD, LSOA11NM, WD19CD, WD19NM, LAD19CD, LAD19NM, or lsoa21_code, lsoa21_name, "
            f"ward24_code, ward24_name, ltla24_code, ltla24_name); found: {', '.join(header)}",
            "file",
        )
    return columns


def _vintages_by_area() -> dict[int, dict[int, AreaVintage]]:
    out: dict[int, dict[int, AreaVintage]] = defaultdict(dict)
    for vintage in db.session.scalars(select(AreaVintage)):
        out[vintage.area_id][vintage.year] = vintage
    return out


def _open_csv(path: Path, what: str):
    fh = path.open(newline="", encoding="utf-8-sig")
    try:
        fh.read(4096)  # a binary or non-UTF-8 file fails here, before any row is read
        fh.seek(0)
        return fh
    except UnicodeDecodeError:
        fh.close()
        raise OperationError(f"The {what} file is not UTF-8 text.", "file") from None


def load_lookup(path: Path | str, local_authority: str | None = None) -> LoadReport:
    """Load an ONS LSOA → ward → local authority lookup CSV of any vintage, optionally one authority's rows."""
    path = Path(path)
    report = LoadReport()
    existing = {a.code: a for a in db.session.scalars(select(Area))}
    vintages = _vintages_by_area()
    pending: dict[str, dict[int, str]] = defaultdict(dict)  # vintages of areas created in this load
    touched_lads: set[str] = set()
    try:
        with _open_csv(path, "lookup") as fh:
            reader = csv.DictReader(fh)
            columns = find_lookup_columns(reader.fieldnames or [])
            report.vintages = {level: c.year for level, c in columns.items()}
            for rownum, row in enumerate(reader, start=2):
                lad_code = (row.get(columns[AreaLevel.LAD].code) or "").strip()
                if local_authority and lad_code != local_authority:
                    continue
                report.rows += 1
                touched_lads.add(lad_code)
                parent: Area | None = None
                for level in _HIERARCHY:
                    column = columns[level]
                    code = (row.get(column.code) or "").strip()
                    name = (row.get(column.name) or "").strip()
                    if not ONS_CODE.match(code):
                        raise OperationError(
                            f"Row {rownum}, column {column.code}: {code!r} is not an ONS code.", "file"
                        )
                    if not name:
                        raise OperationError(f"Row {rownum}, column {column.name}: the name is empty.", "file")
                    area = existing.get(code)
                    if area is None:
                        area = Area(code=code, name=name, level=level, parent=parent)
                        db.session.add(area)
                        existing[code] = area
                        report.created[level] += 1
                        pending[code][column.year] = name
                    else:
                        known = set(vintages.get(area.id, {})) | set(pending.get(code, {}))
                        newest = not known or column.year >= max(known)
                        if newest and (area.name != name or area.parent is not parent or area.level is not level):
                            area.name, area.parent, area.level = name, parent, level
                            report.updated[level] += 1
                        if area.id is not None and column.year not in vintages.get(area.id, {}):
                            vintage = AreaVintage(area_id=area.id, year=column.year, name=name)
                            db.session.add(vintage)
                            vintages[area.id][column.year] = vintage
                        elif area.id is None:
                            pending[code][column.year] = name
                    parent = area
    except UnicodeDecodeError:
        raise OperationError("The lookup file is not UTF-8 text.", "file") from None
    if report.rows == 0:
        where = f" for local authority {local_authority}" if local_authority else ""
        raise OperationError(f"The lookup has no rows{where}.", "file")
    db.session.flush()
    for code, years in pending.items():
        for year, name in years.items():
            db.session.add(AreaVintage(area_id=existing[code].id, year=year, name=name))
    db.session.flush()
    report.superseded = refresh_current([existing[c] for c in touched_lads])
    log.info("geography lookup loaded: %s rows, %s", report.rows, report.summary())
    return report


def refresh_current(local_authorities: list[Area]) -> Counter:
    """Mark the wards and LSOAs of these authorities current or superseded (see the module docstring); returns
    how many of each level are superseded now."""
    lad_ids = {a.id for a in local_authorities}
    if not lad_ids:
        return Counter()
    rows = db.session.execute(select(Area.id, Area.level, Area.parent_id)).all()
    children: dict[int, list[tuple[int, AreaLevel]]] = defaultdict(list)
    for area_id, level, parent_id in rows:
        if parent_id is not None:
            children[parent_id].append((area_id, level))
    years: dict[int, set[int]] = defaultdict(set)
    for area_id, year in db.session.execute(select(AreaVintage.area_id, AreaVintage.year)):
        years[area_id].add(year)
    flags: dict[int, bool] = {}
    for lad_id in lad_ids:
        wards = [i for i, level in children[lad_id] if level is AreaLevel.WARD]
        lsoas = [i for w in wards for i, level in children[w] if level is AreaLevel.LSOA]
        for ids in (wards, lsoas):
            newest = max((max(years[i]) for i in ids if years[i]), default=None)
            for i in ids:
                flags[i] = not years[i] or newest in years[i]
        flags[lad_id] = not wards or any(flags[w] for w in wards)
    superseded: Counter = Counter()
    levels = {area_id: level for area_id, level, _ in rows}
    for area in db.session.scalars(select(Area).where(Area.id.in_(list(flags)))):
        area.current = flags[area.id]
        if not area.current:
            superseded[levels[area.id]] += 1
    db.session.flush()
    return superseded


# The LSOA 2011 → 2021 bridge --------------------------------------------------------------------------------------


@dataclass
class BridgeReport:
    rows: int = 0
    pairs: Counter = field(default_factory=Counter)  # change code → stored pairs
    missing: Counter = field(default_factory=Counter)  # codes of rows skipped: the LSOA is not loaded
    reparented: int = 0
    old_year: int = 0
    new_year: int = 0

    def summary(self) -> str:
        changes = ", ".join(
            f"{self.pairs[k.value]} {k.label}" for k in AreaChangeKind if self.pairs[k.value]
        )  # fmt: skip
        text = f"LSOA {self.old_year} → {self.new_year}: {sum(self.pairs.values())} pairs ({changes or 'none'})"
        if self.reparented:
            text += f"; {self.reparented} superseded LSOAs placed in their successors' current ward"
        if self.missing:
            examples = ", ".join(sorted(self.missing)[:5])
            text += (
                f"; {len(self.missing)} LSOA codes not loaded, their rows skipped (e.g. {examples}): load the "
                "lookups of both vintages for those areas first"
            )
        return text


@dataclass(frozen=True)
class _BridgeColumns:
    old: LookupColumn
    new: LookupColumn
    change: str
    lad: str | None


def _bridge_columns(header: Sequence[str]) -> _BridgeColumns:
    found: dict[int, dict[str, str]] = defaultdict(dict)
    change = lad = None
    for name in header:
        stripped = name.strip()
        if match := _COLUMN[AreaLevel.LSOA].match(stripped):
            found[vintage_year(match.group(1))]["CD" if match.group(2).lower() in ("cd", "code") else "NM"] = name
        elif _CHANGE_COLUMN.match(stripped):
            change = name
        elif (match := _COLUMN[AreaLevel.LAD].match(stripped)) and match.group(2).lower() in ("cd", "code"):
            lad = name
    years = sorted(y for y, cols in found.items() if "CD" in cols)
    if len(years) != 2 or change is None:
        raise OperationError(
            "The bridge needs two LSOA code columns of different vintages and the ONS change code, such as "
            "LSOA11CD, LSOA21CD, CHGIND (ONS) or lsoa11_code, lsoa21_code, change_code; found: "
            f"{', '.join(header)}",
            "file",
        )
    old, new = (LookupColumn(found[y]["CD"], found[y].get("NM", ""), y) for y in years)
    return _BridgeColumns(old, new, change, lad)


def load_bridge(path: Path | str, local_authority: str | None = None) -> BridgeReport:
    """Load the ONS LSOA (2011) → LSOA (2021) lookup (or a copy in snake case), optionally one authority's rows."""
    path = Path(path)
    report = BridgeReport()
    lsoas = {a.code: a for a in db.session.scalars(select(Area).where(Area.level == AreaLevel.LSOA))}
    vintages = _vintages_by_area()
    existing = {(c.old_area_id, c.new_area_id): c for c in db.session.scalars(select(AreaChange))}
    method = f"ONS LSOA 2011 → 2021 lookup with change codes ({path.name})"
    successors: dict[int, list[Area]] = defaultdict(list)
    with _open_csv(path, "bridge") as fh:
        reader = csv.DictReader(fh)
        columns = _bridge_columns(reader.fieldnames or [])
        report.old_year, report.new_year = columns.old.year, columns.new.year
        if local_authority and columns.lad is None:
            raise OperationError("The bridge has no local authority column to choose rows by.", "local_authority")
        for rownum, row in enumerate(reader, start=2):
            if local_authority and (row.get(columns.lad) or "").strip() != local_authority:
                continue
            report.rows += 1
            codes = []
            for column in (columns.old, columns.new):
                code = (row.get(column.code) or "").strip()
                if not ONS_CODE.match(code):
                    raise OperationError(f"Row {rownum}, column {column.code}: {code!r} is not an ONS code.", "file")
                codes.append(code)
            old_code, new_code = codes
            raw = (row.get(columns.change) or "").strip().upper()
            try:
                change = AreaChangeKind(raw)
            except ValueError:
                raise OperationError(
                    f"Row {rownum}, column {columns.change}: {raw!r} is not an ONS change code (U, S, M or X).", "file"
                ) from None
            if change is AreaChangeKind.UNCHANGED and old_code != new_code:
                raise OperationError(
                    f"Row {rownum}: change U (unchanged) but the codes differ ({old_code}, {new_code}).", "file"
                )
            old, new = lsoas.get(old_code), lsoas.get(new_code)
            if old is None or new is None:
                report.missing.update(c for c, a in ((old_code, old), (new_code, new)) if a is None)
                continue
            for area, column in ((old, columns.old), (new, columns.new)):
                if column.year not in vintages[area.id]:
                    name = (row.get(column.name) or "").strip() if column.name else ""
                    vintages[area.id][column.year] = AreaVintage(area_id=area.id, year=column.year, name=name)
                    db.session.add(vintages[area.id][column.year])
            pair = existing.get((old.id, new.id))
            if pair is None:
                pair = AreaChange(old_area_id=old.id, new_area_id=new.id)
                db.session.add(pair)
                existing[(old.id, new.id)] = pair
            pair.change, pair.old_year, pair.new_year, pair.method = change, columns.old.year, columns.new.year, method
            report.pairs[change.value] += 1
            if old.id != new.id:
                successors[old.id].append(new)
    if report.rows == 0:
        where = f" for local authority {local_authority}" if local_authority else ""
        raise OperationError(f"The bridge has no rows{where}.", "file")
    if not report.pairs:
        raise OperationError(
            f"None of the bridge's {report.rows} rows joins two loaded LSOAs: load the LSOA "
            f"{columns.old.year} and {columns.new.year} lookups first.",
            "file",
        )
    db.session.flush()
    by_id = {a.id: a for a in lsoas.values()}
    for old_id, news in successors.items():
        old = by_id[old_id]
        if old.parent is not None and old.parent.current:
            continue  # its own best-fit ward still exists
        wards = Counter(n.parent_id for n in news if n.parent_id is not None)
        if wards:
            ward_id = min(wards, key=lambda w: (-wards[w], db.session.get(Area, w).code))  # type: ignore[union-attr]  # a parent_id names an area (foreign key)
            old.parent = db.session.get(Area, ward_id)
            report.reparented += 1
    db.session.flush()
    ward_ids = {by_id[i].parent_id for pair in existing.values() for i in (pair.old_area_id, pair.new_area_id)}
    touched = set(db.session.scalars(select(Area.parent_id).where(Area.id.in_(ward_ids - {None})).distinct()))
    refresh_current(list(db.session.scalars(select(Area).where(Area.id.in_(touched - {None})))))
    log.info("bridge loaded: %s", report.summary())
    return report


# Boundaries ---------------------------------------------------------------------------------------------------------


def _feature_code(properties: dict, level: AreaLevel) -> str | None:
    prefix = {AreaLevel.LSOA: "LSOA", AreaLevel.WARD: "WD", AreaLevel.LAD: "LAD"}.get(level)
    for key, value in properties.items():
        if prefix and re.match(rf"^{prefix}\d\dCD$", key, re.IGNORECASE):
            return str(value).strip()
    for key in ("code", "CODE", "areacode"):
        if key in properties:
            return str(properties[key]).strip()
    return None


def load_boundaries(path: Path | str, level: AreaLevel | str) -> LoadReport:
    """Attach GeoJSON geometries to existing areas of ``level``, matched by code; unmatched codes are reported."""
    level = AreaLevel(level)
    try:
        collection = json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OperationError(f"The boundaries file is not GeoJSON: {exc}", "boundaries") from None
    features = collection.get("features") if isinstance(collection, dict) else None
    if not isinstance(features, list):
        raise OperationError("The boundaries file has no 'features' list (expected a FeatureCollection).", "boundaries")
    areas = {a.code: a for a in db.session.scalars(select(Area).where(Area.level == level))}
    report = LoadReport()
    for number, feature in enumerate(features, start=1):
        code = _feature_code(feature.get("properties") or {}, level)
        geometry = feature.get("geometry")
        if not code or not isinstance(geometry, dict):
            raise OperationError(f"Feature {number} has no area code or no geometry.", "boundaries")
        area = areas.get(code)
        if area is None:
            report.unmatched.append(code)
            continue
        area.boundary = json.dumps(geometry, separators=(",", ":"))
        report.updated[level] += 1
        report.rows += 1
    db.session.flush()
    log.info("boundaries loaded for %s %s areas, %s unmatched", report.rows, level.value, len(report.unmatched))
    return report


# Neighbourhoods -----------------------------------------------------------------------------------------------------

# How many bad rows a refused file's message lists (the count of the rest follows).
MAX_REPORTED_ROWS = 20
_NEIGHBOURHOOD_COLUMN = re.compile(r"^(neighbourhood|neighborhood|place|place_?name)$", re.IGNORECASE)
_WARD_CODE_COLUMN = re.compile(r"^(?:ward_?code|(?:wd|ward)_?\d\d_?(?:cd|code))$", re.IGNORECASE)
_WARD_NAME_COLUMN = re.compile(r"^(?:ward_?name|(?:wd|ward)_?\d\d_?(?:nm|name))$", re.IGNORECASE)


def place_key(name: str) -> str:
    """A place name folded for matching: case, apostrophes and full stops, "&" for "and", and spacing do not
    count ("St. Paul's" = "st pauls"; "Hotwells & Harbourside" = "hotwells and harbourside")."""
    text = name.lower().replace("&", " and ")
    text = re.sub(r"['’.]", "", text)
    text = re.sub(r"[^\w]+", " ", text)
    return " ".join(text.split())


@dataclass
class GazetteerReport:
    rows: int = 0
    created: int = 0
    updated: int = 0

    def summary(self) -> str:
        return f"{self.rows} neighbourhoods: {self.created} new, {self.updated} changed"


class BadRows(OperationError):
    """A file refused whole: ``problems`` lists each bad row as "Row N, column C: reason"."""

    def __init__(self, what: str, problems: list[str], field: str = "file"):
        self.problems = problems
        shown = problems[:MAX_REPORTED_ROWS]
        more = len(problems) - len(shown)
        text = f"Nothing was loaded: {len(problems)} bad row{'s' if len(problems) != 1 else ''} in the {what}.\n"
        text += "\n".join(shown) + (f"\n… and {more} more." if more else "")
        super().__init__(text, field)


def _find(header: list[str], pattern: re.Pattern) -> str | None:
    return next((name for name in header if pattern.match(name.strip())), None)


def load_neighbourhoods(path: Path | str) -> GazetteerReport:
    """Load a gazetteer CSV of neighbourhood names and the ward holding each (columns ``neighbourhood`` and
    ``ward_code``, or an ONS-style ``WD24CD``; an optional ``ward_name`` is checked against the loaded ward). Every
    bad row is reported with its number and nothing is stored from a file that has one; loading again updates."""
    path = Path(path)
    report = GazetteerReport()
    wards = {a.code: a for a in db.session.scalars(select(Area).where(Area.level == AreaLevel.WARD))}
    problems: list[str] = []
    wanted: dict[str, tuple[str, Area]] = {}
    first_row: dict[str, int] = {}
    with _open_csv(path, "neighbourhoods") as fh:
        reader = csv.DictReader(fh)
        header = [h for h in (reader.fieldnames or []) if h]
        place_col = _find(header, _NEIGHBOURHOOD_COLUMN)
        code_col = _find(header, _WARD_CODE_COLUMN)
        name_col = _find(header, _WARD_NAME_COLUMN)
        if place_col is None or code_col is None:
            missing = " and ".join(
                what for what, col in (("neighbourhood", place_col), ("ward_code", code_col)) if col is None
            )
            raise OperationError(
                f"The neighbourhoods file needs a {missing} column (neighbourhood, ward_code and optionally "
                f"ward_name); found: {', '.join(header) or 'no header'}.",
                "file",
            )
        try:
            for rownum, row in enumerate(reader, start=2):
                report.rows += 1
                name = " ".join((row.get(place_col) or "").split())
                code = (row.get(code_col) or "").strip().upper()
                if not name:
                    problems.append(f"Row {rownum}, column {place_col}: the neighbourhood's name is empty.")
                    continue
                if len(name) > 200:
                    problems.append(f"Row {rownum}, column {place_col}: the name is longer than 200 characters.")
                    continue
                ward = wards.get(code)
                if not ONS_CODE.match(code):
                    problems.append(f"Row {rownum}, column {code_col}: {code[:20]!r} is not an ONS ward code.")
                    continue
                if ward is None:
                    problems.append(f"Row {rownum}, column {code_col}: no ward {code} is loaded (load the lookup "
                                    "first with `commintel geography load`).")  # fmt: skip
                    continue
                if not ward.current:
                    problems.append(f"Row {rownum}, column {code_col}: ward {code} ({ward.name}) is superseded.")
                    continue
                given = (row.get(name_col) or "").strip() if name_col else ""
                if given and place_key(given) != place_key(ward.name):
                    problems.append(
                        f"Row {rownum}, column {name_col}: {given[:60]!r} is not the name of ward {code} ({ward.name})."
                    )
                    continue
                key = place_key(name)
                if key in wanted and wanted[key][1] is not ward:
                    problems.append(
                        f"Row {rownum}, column {place_col}: {name!r} is already placed in {wanted[key][1].name} "
                        f"on row {first_row[key]}."
                    )
                    continue
                wanted.setdefault(key, (name, ward))
                first_row.setdefault(key, rownum)
        except (UnicodeDecodeError, csv.Error) as exc:
            raise OperationError(f"The neighbourhoods file cannot be read as CSV: {exc}", "file") from None
    if problems:
        raise BadRows("neighbourhoods file", problems)
    if not wanted:
        raise OperationError("The neighbourhoods file has no rows.", "file")
    existing = {n.key: n for n in db.session.scalars(select(Neighbourhood))}
    for key, (name, ward) in wanted.items():
        found = existing.get(key)
        if found is None:
            db.session.add(Neighbourhood(name=name, key=key, ward=ward, source=path.name))
            report.created += 1
        elif found.ward_id != ward.id or found.name != name:
            found.name, found.ward, found.source = name, ward, path.name
            report.updated += 1
    report.rows = len(wanted)
    db.session.flush()
    log.info("neighbourhoods loaded: %s", report.summary())
    return report


def find_neighbourhood(name: str) -> Neighbourhood | None:
    """The gazetteer entry for a place name, however it is spelt (see :func:`place_key`)."""
    key = place_key(name)
    if not key:
        return None
    return db.session.scalar(select(Neighbourhood).where(Neighbourhood.key == key))


# Postcodes ----------------------------------------------------------------------------------------------------------

# A UK postcode, spaces aside: outward code (area letters, district digits and maybe a letter) then inward code.
_POSTCODE = re.compile(r"^([A-Z]{1,2}\d[A-Z\d]?)(\d[A-Z]{2})$")
# ONSPD and NSPL column names (lower case in the files): pcds "BS5 0HE", pcd "BS5 0HE" padded to 7, pcd2 to 8.
_POSTCODE_COLUMNS = ("pcds", "pcd", "pcd2", "postcode")
_LSOA21_COLUMNS = ("lsoa21", "lsoa21cd", "lsoa21_code")
_INSERT_BATCH = 5000


def normalise_postcode(value: str) -> str | None:
    """ "bs50he", " BS5  0HE " → "BS5 0HE"; None when it is not shaped like a UK postcode."""
    compact = re.sub(r"\s+", "", str(value)).upper()
    if match := _POSTCODE.match(compact):
        return f"{match.group(1)} {match.group(2)}"
    return None


@dataclass
class PostcodeReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    outside: int = 0  # rows whose LSOA is not loaded here (the rest of the country, in a national file)
    no_lsoa: int = 0  # rows with no LSOA (ONS pseudo codes: Channel Islands, Isle of Man, some non-geographic)

    def summary(self) -> str:
        text = f"{self.rows:,} rows; {self.created:,} postcodes new, {self.updated:,} moved to another LSOA"
        if self.outside:
            text += f"; {self.outside:,} in LSOAs not loaded here, skipped"
        if self.no_lsoa:
            text += f"; {self.no_lsoa:,} without an LSOA, skipped"
        return text


def _column(header: list[str], names: tuple[str, ...]) -> str | None:
    lowered = {h.strip().lower(): h for h in header}
    return next((lowered[n] for n in names if n in lowered), None)


def load_postcodes(path: Path | str) -> PostcodeReport:
    """Load postcode → LSOA (2021) pairs from an ONS postcode directory CSV (ONSPD or NSPL: columns ``pcds`` (or
    ``pcd``) and ``lsoa21`` (or ``lsoa21cd``), the others ignored). Only postcodes of loaded, current LSOAs are kept,
    so the national file can be loaded as it is. Every bad row is reported with its number and nothing is stored
    from a file that has one; loading again updates."""
    path = Path(path)
    report = PostcodeReport()
    lsoas = dict(
        db.session.execute(
            select(Area.code, Area.id).where(Area.level == AreaLevel.LSOA, Area.current.is_(True))
        ).tuples().all()
    )  # fmt: skip
    problems: list[str] = []
    wanted: dict[str, int] = {}
    first_row: dict[str, int] = {}
    with _open_csv(path, "postcode directory") as fh:
        # csv.reader and two column indexes, not DictReader: the national directory has 2.7 million rows of 52+
        # columns, and building a dict per row would be most of the load's time.
        reader = csv.reader(fh)
        fields = next(reader, [])
        header = [h for h in fields if h]
        pc_col = _column(header, _POSTCODE_COLUMNS)
        lsoa_col = _column(header, _LSOA21_COLUMNS)
        if pc_col is None or lsoa_col is None:
            missing = " and ".join(
                what for what, col in (("postcode (pcds or pcd)", pc_col), ("LSOA 2021 (lsoa21)", lsoa_col))
                if col is None
            )  # fmt: skip
            shown = ", ".join(header[:30]) + (", …" if len(header) > 30 else "")
            raise OperationError(
                f"The postcode directory lacks the {missing} column, as in the ONS postcode directory (ONSPD) or "
                f"the National Statistics Postcode Lookup (NSPL); found: {shown or 'no header'}.",
                "file",
            )
        pc_at, lsoa_at = fields.index(pc_col), fields.index(lsoa_col)
        width = max(pc_at, lsoa_at) + 1
        try:
            for rownum, row in enumerate(reader, start=2):
                if not row:
                    continue  # a blank line (csv.reader gives []), as DictReader skips it
                report.rows += 1
                if len(row) < width:
                    problems.append(f"Row {rownum}: only {len(row)} of the header's {len(fields)} columns.")
                    continue
                raw = row[pc_at].strip()
                postcode = normalise_postcode(raw)
                if postcode is None:
                    problems.append(f"Row {rownum}, column {pc_col}: {raw[:12]!r} is not a postcode.")
                    continue
                code = row[lsoa_at].strip().upper()
                if not code or code.endswith("99999999"):
                    report.no_lsoa += 1
                    continue
                if not ONS_CODE.match(code):
                    problems.append(f"Row {rownum}, column {lsoa_col}: {code[:20]!r} is not an ONS LSOA code.")
                    continue
                lsoa_id = lsoas.get(code)
                if lsoa_id is None:
                    report.outside += 1
                    continue
                if postcode in wanted and wanted[postcode] != lsoa_id:
                    problems.append(
                        f"Row {rownum}, column {pc_col}: {postcode} is already in another LSOA on row "
                        f"{first_row[postcode]}."
                    )
                    continue
                wanted[postcode] = lsoa_id
                first_row.setdefault(postcode, rownum)
        except (UnicodeDecodeError, csv.Error) as exc:
            raise OperationError(f"The postcode directory cannot be read as CSV: {exc}", "file") from None
    if problems:
        raise BadRows("postcode directory", problems)
    if report.rows == 0:
        raise OperationError("The postcode directory has no rows.", "file")
    existing = dict(db.session.execute(select(Postcode.postcode, Postcode.lsoa_id)).tuples().all())
    new = [{"postcode": pc, "lsoa_id": lsoa_id} for pc, lsoa_id in wanted.items() if pc not in existing]
    for start in range(0, len(new), _INSERT_BATCH):
        db.session.execute(insert(Postcode), new[start : start + _INSERT_BATCH])
    report.created = len(new)
    for pc, lsoa_id in wanted.items():
        if pc in existing and existing[pc] != lsoa_id:
            db.session.get(Postcode, pc).lsoa_id = lsoa_id  # type: ignore[union-attr]  # pc is in existing: stored
            report.updated += 1
    db.session.flush()
    log.info("postcode directory loaded: %s", report.summary())
    return report


def postcodes_loaded() -> bool:
    """Whether any postcode is loaded (else a postcode cannot be looked up, and the message says so)."""
    found = db.session.scalar(select(func.count()).select_from(select(Postcode.postcode).limit(1).subquery()))
    return bool(found)


def find_postcode(value: str) -> Postcode | None:
    """The loaded postcode for ``value`` however it is spaced or cased; None if it is not loaded."""
    postcode = normalise_postcode(value)
    return db.session.get(Postcode, postcode) if postcode else None


# Queries ------------------------------------------------------------------------------------------------------------


def search_areas(
    query: str = "",
    levels: tuple[AreaLevel, ...] = (AreaLevel.WARD,),
    limit: int = 200,
    current: bool | None = True,
    with_vintages: bool = False,
) -> list[Area]:
    """Areas of the given levels whose name or code contains ``query``, by name (current ones unless
    ``current`` is False for superseded ones only, or None for both). ``with_vintages``: their vintages loaded with
    them, for a list that labels every area with its vintages (one query, not one per area)."""
    stmt = select(Area).where(Area.level.in_(levels)).order_by(Area.name).limit(limit)
    if with_vintages:
        stmt = stmt.options(selectinload(Area.vintages))
    if current is not None:
        stmt = stmt.where(Area.current.is_(current))
    query = (query or "").strip()
    if query:
        like = f"%{query.lower()}%"
        stmt = stmt.where(db.func.lower(Area.name).like(like) | db.func.lower(Area.code).like(like))
    return list(db.session.scalars(stmt))


def changes_from(area: Area) -> list[AreaChange]:
    """The bridge rows where ``area`` is the old area (what became of it), new areas by code."""
    stmt = select(AreaChange).where(AreaChange.old_area_id == area.id)
    return sorted(db.session.scalars(stmt), key=lambda c: c.new_area.code)


def changes_to(area: Area) -> list[AreaChange]:
    """The bridge rows where ``area`` is the new area (what it came from), old areas by code."""
    stmt = select(AreaChange).where(AreaChange.new_area_id == area.id)
    return sorted(db.session.scalars(stmt), key=lambda c: c.old_area.code)
