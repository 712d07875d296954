"""Statistical geography: load ONS lookups (LSOA → ward → local authority) and GeoJSON boundaries into Areas.

Loaders are operations: they flush and never commit, so the CLI loads a whole file or nothing.
"""

from __future__ import annotations

import csv
import json
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Area, AreaLevel
from webapp.operations import OperationError

log = logging.getLogger(__name__)

# ONS names its code/name columns with the vintage year: LSOA11CD, WD19NM, LAD19CD, ...
_COLUMN = {
    AreaLevel.LSOA: re.compile(r"^LSOA(\d\d)(CD|NM)$", re.IGNORECASE),
    AreaLevel.WARD: re.compile(r"^WD(\d\d)(CD|NM)$", re.IGNORECASE),
    AreaLevel.LAD: re.compile(r"^LAD(\d\d)(CD|NM)$", re.IGNORECASE),
}
_HIERARCHY = (AreaLevel.LAD, AreaLevel.WARD, AreaLevel.LSOA)  # parents first
_PLURAL = {AreaLevel.LAD: "local authorities", AreaLevel.WARD: "wards", AreaLevel.LSOA: "LSOAs"}
ONS_CODE = re.compile(r"^[EWSN]\d{8}$")


@dataclass
class LoadReport:
    created: Counter = field(default_factory=Counter)
    updated: Counter = field(default_factory=Counter)
    rows: int = 0
    unmatched: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [
            f"{_PLURAL[level]}: {self.created[level]} new, {self.updated[level]} updated"
            for level in _HIERARCHY
            if self.created[level] or self.updated[level]
        ]
        return "; ".join(parts) or "nothing loaded"


def _find_columns(header: list[str]) -> dict[AreaLevel, tuple[str, str]]:
    found: dict[AreaLevel, dict[str, str]] = {}
    for name in header:
        for level, pattern in _COLUMN.items():
            match = pattern.match(name.strip())
            if match:
                found.setdefault(level, {})[match.group(2).upper()] = name
    columns = {level: (cols["CD"], cols["NM"]) for level, cols in found.items() if {"CD", "NM"} <= cols.keys()}
    if AreaLevel.LSOA not in columns or AreaLevel.WARD not in columns or AreaLevel.LAD not in columns:
        raise OperationError(
            "The lookup needs code and name columns for LSOA, ward and local authority "
            f"(such as LSOA11CD, LSOA11NM, WD19CD, WD19NM, LAD19CD, LAD19NM); found: {', '.join(header)}",
            "file",
        )
    return columns


def load_lookup(path: Path | str, local_authority: str | None = None) -> LoadReport:
    """Load an ONS LSOA → ward → local authority lookup CSV, optionally only one local authority's rows."""
    path = Path(path)
    report = LoadReport()
    existing = {a.code: a for a in db.session.scalars(select(Area))}
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            columns = _find_columns(reader.fieldnames or [])
            for rownum, row in enumerate(reader, start=2):
                lad_code = (row.get(columns[AreaLevel.LAD][0]) or "").strip()
                if local_authority and lad_code != local_authority:
                    continue
                report.rows += 1
                parent: Area | None = None
                for level in _HIERARCHY:
                    code_col, name_col = columns[level]
                    code = (row.get(code_col) or "").strip()
                    name = (row.get(name_col) or "").strip()
                    if not ONS_CODE.match(code):
                        raise OperationError(f"Row {rownum}, column {code_col}: {code!r} is not an ONS code.", "file")
                    if not name:
                        raise OperationError(f"Row {rownum}, column {name_col}: the name is empty.", "file")
                    area = existing.get(code)
                    if area is None:
                        area = Area(code=code, name=name, level=level, parent=parent)
                        db.session.add(area)
                        existing[code] = area
                        report.created[level] += 1
                    elif area.name != name or area.parent is not parent or area.level is not level:
                        area.name, area.parent, area.level = name, parent, level
                        report.updated[level] += 1
                    parent = area
    except UnicodeDecodeError:
        raise OperationError("The lookup file is not UTF-8 text.", "file") from None
    if report.rows == 0:
        where = f" for local authority {local_authority}" if local_authority else ""
        raise OperationError(f"The lookup has no rows{where}.", "file")
    db.session.flush()
    log.info("geography lookup loaded: %s rows, %s", report.rows, report.summary())
    return report


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


def search_areas(query: str = "", levels: tuple[AreaLevel, ...] = (AreaLevel.WARD,), limit: int = 200) -> list[Area]:
    """Areas of the given levels whose name or code contains ``query``, by name."""
    stmt = select(Area).where(Area.level.in_(levels)).order_by(Area.name).limit(limit)
    query = (query or "").strip()
    if query:
        like = f"%{query.lower()}%"
        stmt = stmt.where(db.func.lower(Area.name).like(like) | db.func.lower(Area.code).like(like))
    return list(db.session.scalars(stmt))
