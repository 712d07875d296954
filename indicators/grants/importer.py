"""Import grants published in the 360Giving Data Standard: its flattened CSV/XLSX layout and its JSON package.

Every grant is checked before anything is stored, and the file is stored whole or not at all (one transaction, the
caller's commit): a single bad row rejects the file with a report naming each row, field and problem.

1. **Read.** CSV and XLSX go through the observation importer's bounded reader (:func:`submissions.importer.
   read_table`: size, row, cell and XLSX-bomb limits); column titles are the standard's flattened ones ("Amount
   Awarded", "Recipient Org:Identifier", "Beneficiary Location:Geographic Code", or with an index,
   "Beneficiary Location:0:Geographic Code"), read from the vendored schema's titles and ``rollUp`` lists, and cells
   are typed as flatten-tool does (a number column's text that is not a number stays text, so the schema reports
   it). JSON is a package ``{"grants": [...]}``.
2. **Validate** each grant against the vendored ``360-giving-schema.json`` (JSON Schema 2020-12, jsonschema), and
   the package's own fields against ``360-giving-package-schema.json``. Then commintel's own rules: amounts in GBP
   and not negative, award dates that exist, identifiers not blank and not repeated, and every beneficiary location
   code an ONS ward, LSOA or local authority code of commintel's geography (or, with no location code, a recipient
   postcode in the postcode table).
3. **Store** the file, its grants and where each grant's money goes (a grant naming several locations is split
   equally between them).
"""

from __future__ import annotations

import csv
import functools
import json
import logging
import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from sqlalchemy import select

from indicators.grants.models import Grant, GrantFile, GrantPlace
from webapp import geography
from webapp.extensions import db
from webapp.models import Area, AreaLevel, Partnership, User
from webapp.operations import OperationError

log = logging.getLogger(__name__)

SCHEMA_DIR = Path(__file__).resolve().parent / "schema"
MAX_GRANTS = 20_000  # far more than a year of one funder's grants to one city; a larger file is split first
MAX_PROBLEMS_SHOWN = 200
CURRENCY = "GBP"
# The standard's geographic code types (codelists/geoCodeType.csv) commintel can place, and the level each names.
PLACEABLE_TYPES = {
    "WD": AreaLevel.WARD,
    "LSOA": AreaLevel.LSOA,
    "UA": AreaLevel.LAD,
    "NMD": AreaLevel.LAD,
    "MD": AreaLevel.LAD,
    "LONB": AreaLevel.LAD,
}
ONS_LEVELS = (AreaLevel.WARD, AreaLevel.LSOA, AreaLevel.LAD)


class GrantFileError(OperationError):
    """The file as a whole cannot be read (wrong type, not JSON, no grants, too many)."""


@dataclass(frozen=True)
class Problem:
    row: str  # "Row 3" (CSV/XLSX: the spreadsheet's row number) or "Grant 2" (JSON: its place in "grants")
    field: str  # the standard's title ("Amount Awarded", "Recipient Org:Identifier")
    problem: str


@dataclass
class Report:
    filename: str
    layout: str
    grants: int = 0
    problems: list[Problem] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    stored: GrantFile | None = None
    outside: int = 0  # grants placed only outside the partnership's area (stored, not set beside its wards)

    @property
    def bad_rows(self) -> int:
        return len({p.row for p in self.problems})

    @property
    def shown_problems(self) -> list[Problem]:
        return self.problems[:MAX_PROBLEMS_SHOWN]


class GrantImportRejected(OperationError):
    """At least one grant failed: nothing was stored. ``report`` lists every problem."""

    def __init__(self, report: Report):
        n = report.bad_rows
        super().__init__(
            f"Nothing was stored: {n} of {report.grants} grants {'has' if n == 1 else 'have'} problems. Correct them "
            "and import the whole file again.",
            "file",
        )
        self.report = report


# The vendored schema ------------------------------------------------------------------------------------------------


@functools.cache
def grant_schema() -> dict:
    return json.loads((SCHEMA_DIR / "360-giving-schema.json").read_text(encoding="utf-8"))


@functools.cache
def package_schema() -> dict:
    return json.loads((SCHEMA_DIR / "360-giving-package-schema.json").read_text(encoding="utf-8"))


@functools.cache
def code_types() -> frozenset[str]:
    with (SCHEMA_DIR / "geoCodeType.csv").open(encoding="utf-8", newline="") as f:
        return frozenset(row["Code"].strip() for row in csv.DictReader(f))


def _format_checker() -> FormatChecker:
    """Only the formats the standard relies on, checked without extra packages: ``date-time`` (RFC 3339, as
    Python reads it). Without a check, ``awardDate``'s ``oneOf`` would match a plain date twice and fail."""
    checker = FormatChecker(formats=())

    @checker.checks("date-time", raises=ValueError)
    def is_datetime(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if not re.match(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}", value):
            return False
        datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        return True

    return checker


@functools.cache
def grant_validator() -> Draft202012Validator:
    schema = grant_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=_format_checker())


@functools.cache
def package_validator() -> Draft202012Validator:
    """The package schema for the package's own fields. Its ``grants`` items are checked one by one with
    :func:`grant_validator` (row-level messages; and ``uniqueItems`` over whole grants would compare every pair),
    so here ``grants`` need only be a non-empty array; the grant schema is registered under the addresses the
    package schema uses for it (1.4.2 and 1.4.3), so nothing is fetched."""
    schema = json.loads(json.dumps(package_schema()))
    schema["properties"]["grants"] = {"type": "array", "minItems": 1}
    # The schemas name their dialect with http://, which referencing does not detect: say it.
    grant = DRAFT202012.create_resource(grant_schema())
    uris = {grant_schema()["$id"], grant_schema()["$id"].replace("/1.4.3/", "/1.4.2/")}
    registry = Registry().with_resources((uri, grant) for uri in uris)
    return Draft202012Validator(schema, registry=registry, format_checker=_format_checker())


def _resolve(spec: dict) -> dict:
    ref = spec.get("$ref", "")
    if ref.startswith("#/$defs/"):
        return {**grant_schema()["$defs"][ref.rsplit("/", 1)[1]], **{k: v for k, v in spec.items() if k != "$ref"}}
    return spec


@dataclass(frozen=True)
class Column:
    path: tuple  # ("amountAwarded",), ("recipientOrganization", 0, "id"), ("recipientIndividual", "id")
    title: str
    types: frozenset[str]


def _types(spec: dict) -> frozenset[str]:
    t = spec.get("type", "string")
    return frozenset(t if isinstance(t, list) else [t])


@functools.cache
def flattened_titles() -> dict[str, Column]:
    """``{lower-case title: Column}`` for every simple field and every rolled-up field of the grant schema, with
    the titles flatten-tool writes ("Recipient Org:Identifier")."""
    out: dict[str, Column] = {}
    for prop, raw in grant_schema()["properties"].items():
        spec = _resolve(raw)
        title = spec.get("title") or raw.get("title")
        if not title:
            continue
        types = _types(spec)
        if "array" in types and "rollUp" in spec:
            item = _resolve(spec.get("items", {}))
            for sub in spec["rollUp"]:
                sub_spec = _resolve(item.get("properties", {}).get(sub, {}))
                if sub_spec.get("title"):
                    name = f"{title}:{sub_spec['title']}"
                    out[name.lower()] = Column((prop, 0, sub), name, _types(sub_spec))
        elif "object" in types:
            for sub, sub_raw in spec.get("properties", {}).items():
                sub_spec = _resolve(sub_raw)
                if sub_spec.get("title") and _types(sub_spec) & {"string", "number"}:
                    name = f"{title}:{sub_spec['title']}"
                    out[name.lower()] = Column((prop, sub), name, _types(sub_spec))
        elif types & {"string", "number"}:
            out[title.lower()] = Column((prop,), title, types)
    return out


_INDEXED = re.compile(r"^(.+?):(\d+):(.+)$")


def column_for(header: str) -> Column | None:
    """The standard's field a flattened column title names (case and spaces around colons do not matter)."""
    key = re.sub(r"\s*:\s*", ":", str(header).strip()).lower()
    titles = flattened_titles()
    if key in titles:
        return titles[key]
    if match := _INDEXED.match(key):
        base = titles.get(f"{match.group(1)}:{match.group(3)}")
        if base is not None and len(base.path) == 3:
            index = int(match.group(2))
            if index < 50:  # a grant names a handful of locations, not thousands of columns' worth
                return Column((base.path[0], index, base.path[2]), base.title, base.types)
    return None


def title_of(path: tuple | list) -> str:
    """A JSON path inside a grant in the standard's words ("Recipient Org:Identifier")."""
    parts = [p for p in path if not isinstance(p, int)]
    if not parts:
        return "Grant"
    props = grant_schema()["properties"]
    spec = _resolve(props.get(parts[0], {}))
    title = spec.get("title") or props.get(parts[0], {}).get("title") or parts[0]
    if len(parts) > 1:
        item = _resolve(spec.get("items", {})) if "items" in spec else spec
        sub = _resolve(item.get("properties", {}).get(parts[1], {}))
        title = f"{title}:{sub.get('title') or parts[1]}"
    return title


# Reading ------------------------------------------------------------------------------------------------------------


def _typed(value: Any, types: frozenset[str]) -> Any:
    """A cell as flatten-tool types it: numbers for number fields when the text is a number (else the text, for
    the schema to report), text for text fields, ISO dates for dates; None for an empty cell."""
    if value is None:
        return None
    if isinstance(value, datetime):
        value = value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    elif isinstance(value, date):
        value = value.isoformat()
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
    if "number" in types:
        if isinstance(value, bool):
            return str(value)
        if isinstance(value, int | float):
            return value
        try:
            number = float(value)
        except ValueError:
            return value
        return number if math.isfinite(number) else value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _put(grant: dict, path: tuple, value: Any) -> None:
    if len(path) == 1:
        grant[path[0]] = value
    elif len(path) == 2:
        grant.setdefault(path[0], {})[path[1]] = value
    else:
        items = grant.setdefault(path[0], [])
        while len(items) <= path[1]:
            items.append({})
        items[path[1]][path[2]] = value


def grants_from_table(data: bytes, filename: str) -> tuple[list[tuple[str, dict]], list[str]]:
    """``[(row label, grant)]`` from a flattened CSV/XLSX, and the columns that are not the standard's (ignored)."""
    from submissions.spreadsheets import ImportFileError, read_table

    try:
        table = read_table(data, filename)
    except ImportFileError as exc:
        raise GrantFileError(exc.message, "file") from None
    columns = [column_for(h) for h in table.headers]
    if not any(c is not None for c in columns):
        raise GrantFileError(
            "No column of this file has a title of the 360Giving Data Standard (such as Identifier, Title, Amount "
            "Awarded, Award Date, Recipient Org:Identifier). Export the file from GrantNav or the 360Giving template.",
            "file",
        )
    if len(table.rows) > MAX_GRANTS:
        raise GrantFileError(f"The file has more than {MAX_GRANTS:,} grants; split it into smaller files.", "file")
    ignored = [h for h, c in zip(table.headers, columns, strict=True) if c is None and h]
    out = []
    for number, cells in table.rows:
        grant: dict = {}
        for column, cell in zip(columns, cells, strict=False):
            if column is None:
                continue
            value = _typed(cell, column.types)
            if value is not None:
                _put(grant, column.path, value)
        for key in ("recipientOrganization", "beneficiaryLocation", "fundingOrganization"):
            if key in grant:  # indexed columns left gaps ("Beneficiary Location:2:..." alone)
                grant[key] = [item for item in grant[key] if item]
        out.append((f"Row {number}", grant))
    return out, ignored


def grants_from_json(data: bytes) -> tuple[list[tuple[str, dict]], list[Problem]]:
    """``[(label, grant)]`` from a 360Giving JSON package, and the package-level problems."""
    try:
        package = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise GrantFileError(
            'The file is not JSON in UTF-8 (a 360Giving package: {"grants": [...]}).', "file"
        ) from None
    if not isinstance(package, dict) or not isinstance(package.get("grants"), list):
        raise GrantFileError('A 360Giving JSON file is an object with a list of grants: {"grants": [...]}.', "file")
    grants = package["grants"]
    if not grants:
        raise GrantFileError("The file's list of grants is empty.", "file")
    if len(grants) > MAX_GRANTS:
        raise GrantFileError(f"The file has more than {MAX_GRANTS:,} grants; split it into smaller files.", "file")
    problems = [
        Problem("Package", "/".join(str(p) for p in e.absolute_path) or "package", _short_message(e.message))
        for e in package_validator().iter_errors(package)
    ]
    return [(f"Grant {i}", g) for i, g in enumerate(grants, start=1)], problems


# Validation ---------------------------------------------------------------------------------------------------------

REQUIRED = ("id", "title", "description", "currency", "amountAwarded", "awardDate", "fundingOrganization")


def _shown(value: Any) -> str:
    text = str(value)
    return "“" + (text if len(text) <= 60 else text[:57] + "...") + "”"


def _short_message(message: str) -> str:
    return message if len(message) <= 200 else message[:197] + "..."


def _schema_problems(label: str, grant: dict) -> list[Problem]:
    problems = []
    missing = [k for k in REQUIRED if k not in grant]
    recipients = [k for k in ("recipientOrganization", "recipientIndividual") if k in grant]
    for k in missing:
        problems.append(Problem(label, title_of([k]), "missing: the standard requires it"))
    if not recipients:
        problems.append(Problem(label, "Recipient Org:Identifier", "missing: a grant names its recipient"))
    elif len(recipients) == 2:
        problems.append(Problem(label, "Recipient Ind", "a grant goes to an organisation or an individual, not both"))
    for error in grant_validator().iter_errors(grant):
        if not error.absolute_path and error.validator == "oneOf":
            continue  # the required fields, reported above by name
        path = list(error.absolute_path)
        if error.validator == "required" and isinstance(error.instance, dict):
            # One problem per missing field, named in full ("Recipient Org:Identifier").
            for name in (r for r in error.validator_value if r not in error.instance):
                problems.append(Problem(label, title_of([*path, name]), "missing: the standard requires it"))
            continue
        problems.append(Problem(label, title_of(path), _problem(error)))
    return problems


def _problem(error) -> str:
    value = error.instance
    path = list(error.absolute_path)
    if error.validator == "type":
        expected = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        if "number" in expected and isinstance(value, str):
            return f"{_shown(value)} is text, not a number (write 1500.50, without £ or commas)"
        return f"{_shown(value)} should be {' or '.join(expected)}"
    if path and path[0] == "awardDate":
        return f"{_shown(value)} is not a date written YYYY-MM-DD (or a full date and time)"
    if error.validator == "enum" and path and path[0] == "currency":
        return f"{_shown(value)} is not an ISO 4217 currency code"
    if error.validator == "enum":
        return f"{_shown(value)} is not one of the values the standard allows"
    if error.validator == "minItems":
        return "missing"
    return _short_message(error.message)


@dataclass
class Placement:
    area: Area
    placed_by: str


def _award_date(value: str) -> date:
    return date.fromisoformat(value[:10])


def _pence(amount: float | int) -> int:
    return int((Decimal(str(amount)) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _list(grant: Any, key: str) -> list:
    """``grant[key]`` when the grant is an object and that is a list (the schema reports anything else)."""
    value = grant.get(key) if isinstance(grant, dict) else None
    return value if isinstance(value, list) else []


def _codes_in(grants: list[tuple[str, dict]]) -> set[str]:
    codes = set()
    for _, g in grants:
        for loc in _list(g, "beneficiaryLocation"):
            if isinstance(loc, dict) and isinstance(loc.get("geoCode"), str) and loc["geoCode"].strip():
                codes.add(loc["geoCode"].strip().upper())
    return codes


def check(grants: list[tuple[str, dict]], partnership: Partnership) -> tuple[list[Problem], dict[str, list]]:
    """Every problem of every grant (schema and commintel's rules), and where each good grant is placed."""
    problems: list[Problem] = []
    codes = _codes_in(grants)
    areas = {}
    for chunk in [sorted(codes)[i : i + 500] for i in range(0, len(codes), 500)]:
        areas |= {a.code.upper(): a for a in db.session.scalars(select(Area).where(Area.code.in_(chunk)))}
    stored = dict(
        db.session.execute(
            select(Grant.identifier, GrantFile.filename).join(GrantFile).where(Grant.partnership_id == partnership.id)
        ).all()
    )
    seen: dict[str, str] = {}
    postcodes_loaded: bool | None = None
    placements: dict[str, list] = {}
    for label, grant in grants:
        if not isinstance(grant, dict):
            problems.append(Problem(label, "Grant", "each grant is an object of the standard's fields"))
            continue
        found = _schema_problems(label, grant)
        bad_fields = {p.field for p in found}
        identifier = grant.get("id")
        if isinstance(identifier, str):
            if not identifier.strip():
                found.append(Problem(label, "Identifier", "missing: the identifier is blank"))
            elif identifier in seen:
                found.append(
                    Problem(
                        label,
                        "Identifier",
                        f"{_shown(identifier)} is also the identifier on {seen[identifier]}: each grant has its own",
                    )
                )
            elif identifier in stored:
                found.append(
                    Problem(
                        label,
                        "Identifier",
                        f"{_shown(identifier)} was imported already (file "
                        f"{_shown(stored[identifier])}): a grant is stored once",
                    )
                )
            else:
                seen[identifier] = label
        for org_key, title in (("fundingOrganization", "Funding Org"), ("recipientOrganization", "Recipient Org")):
            orgs = grant.get(org_key)
            if isinstance(orgs, list) and orgs and isinstance(orgs[0], dict):
                for sub, sub_title in (("id", "Identifier"), ("name", "Name")):
                    if isinstance(orgs[0].get(sub), str) and not orgs[0][sub].strip():
                        found.append(Problem(label, f"{title}:{sub_title}", "missing: it is blank"))
        if "Currency" not in bad_fields and isinstance(grant.get("currency"), str) and grant["currency"] != CURRENCY:
            found.append(
                Problem(
                    label,
                    "Currency",
                    f"{_shown(grant['currency'])}: only grants in GBP are set beside need (amounts are not converted)",
                )
            )
        amount = grant.get("amountAwarded")
        if "Amount Awarded" not in bad_fields and isinstance(amount, int | float) and amount < 0:
            found.append(Problem(label, "Amount Awarded", f"{_shown(amount)} is negative"))
        if "Award Date" not in bad_fields and isinstance(grant.get("awardDate"), str):
            try:
                _award_date(grant["awardDate"])
            except ValueError:
                found.append(Problem(label, "Award Date", f"{_shown(grant['awardDate'])} is not a date that exists"))
        places, place_problems, postcodes_loaded = _place(label, grant, areas, postcodes_loaded)
        found += place_problems
        problems += found
        if not found:
            placements[label] = places
    return problems, placements


def _place(label: str, grant: dict, areas: dict[str, Area], postcodes_loaded: bool | None):
    """Where a grant's money goes: each beneficiary location code of commintel's geography, else the recipient
    organisation's postcode through the postcode table."""
    problems, places = [], []
    locations = [loc for loc in _list(grant, "beneficiaryLocation") if isinstance(loc, dict)]
    coded = [loc for loc in locations if isinstance(loc.get("geoCode"), str) and loc["geoCode"].strip()]
    field_code, field_type = "Beneficiary Location:Geographic Code", "Beneficiary Location:Geographic Code Type"
    for loc in coded:
        code = loc["geoCode"].strip().upper()
        kind = loc.get("geoCodeType").strip().upper() if isinstance(loc.get("geoCodeType"), str) else ""
        if kind and kind not in code_types():
            problems.append(Problem(label, field_type, f"{_shown(kind)} is not a code type of the standard's list"))
            continue
        if kind and kind not in PLACEABLE_TYPES:
            problems.append(
                Problem(
                    label,
                    field_type,
                    f"{_shown(kind)}: commintel places grants by ward (WD), LSOA "
                    "or local authority (UA, NMD, MD, LONB) codes",
                )
            )
            continue
        area = areas.get(code)
        if area is None or area.level not in ONS_LEVELS:
            problems.append(
                Problem(
                    label,
                    field_code,
                    f"{_shown(code)} is not a ward, LSOA or local authority code of commintel's geography (ONS codes)",
                )
            )
            continue
        if kind and PLACEABLE_TYPES[kind] is not area.level:
            problems.append(
                Problem(
                    label,
                    field_type,
                    f"{_shown(kind)} does not match {code}, which is a {area.level.label.lower()} code",
                )
            )
            continue
        places.append(Placement(area, "location code"))
    if coded:
        return places, problems, postcodes_loaded
    orgs = grant.get("recipientOrganization")
    postcode = orgs[0].get("postalCode") if isinstance(orgs, list) and orgs and isinstance(orgs[0], dict) else None
    if isinstance(postcode, str) and postcode.strip():
        if postcodes_loaded is None:
            postcodes_loaded = geography.postcodes_loaded()
        found = geography.find_postcode(postcode) if postcodes_loaded else None
        if found is not None:
            return [Placement(found.lsoa, "recipient postcode")], problems, postcodes_loaded
        why = "is not in the postcode table" if postcodes_loaded else "cannot be looked up: no postcodes are loaded"
        problems.append(
            Problem(
                label,
                "Recipient Org:Postal Code",
                f"{_shown(postcode)} {why}, and the grant has no beneficiary location code",
            )
        )
    else:
        problems.append(
            Problem(
                label,
                field_code,
                "missing: a grant is placed by its beneficiary location code (or the recipient's postcode)",
            )
        )
    return places, problems, postcodes_loaded


def ward_of(area: Area) -> Area | None:
    """The ward an area is in: itself, an LSOA's ward; None for a local authority (not attributed to wards)."""
    if area.level is AreaLevel.WARD:
        return area
    if area.level is AreaLevel.LSOA and area.parent is not None and area.parent.level is AreaLevel.WARD:
        return area.parent
    return None


# Storing ------------------------------------------------------------------------------------------------------------


def layout_of(filename: str) -> str:
    name = (filename or "").lower().strip()
    for layout in ("csv", "xlsx", "json"):
        if name.endswith(f".{layout}"):
            return layout
    raise GrantFileError("Upload a 360Giving file: .csv, .xlsx or .json.", "file")


def import_grants(data: bytes, filename: str, partnership: Partnership, actor: User | None) -> Report:
    """Check every grant of a 360Giving file and store them all for ``partnership``, or raise
    :class:`GrantImportRejected` (nothing stored) with the row-level report. Flushes; the caller commits."""
    layout = layout_of(filename)
    if not data or not data.strip():
        raise GrantFileError("The file is empty.", "file")
    report = Report(filename=Path(filename).name[:300], layout=layout)
    if layout == "json":
        grants, report.problems = grants_from_json(data)
    else:
        grants, report.ignored_columns = grants_from_table(data, filename)
    report.grants = len(grants)
    problems, placements = check(grants, partnership)
    report.problems += problems
    if report.problems:
        log.info("grants file refused: %s problems in %s grants", len(report.problems), report.grants)
        raise GrantImportRejected(report)
    covered = _covered_area_ids(partnership)
    stored = GrantFile(
        partnership_id=partnership.id,
        filename=report.filename,
        layout=layout,
        imported_by_id=actor.id if actor else None,
        grant_count=len(grants),
    )
    db.session.add(stored)
    for label, g in grants:
        organisation = (g.get("recipientOrganization") or [None])[0]
        funder = g["fundingOrganization"][0]
        grant = Grant(
            partnership_id=partnership.id,
            identifier=g["id"].strip()[:200],
            title=g["title"].strip()[:300],
            amount_pence=_pence(g["amountAwarded"]),
            currency=g["currency"],
            award_date=_award_date(g["awardDate"]),
            funder_identifier=funder["id"].strip()[:200],
            funder_name=funder["name"].strip()[:300],
            # A grant to an individual keeps nothing of the person.
            recipient_identifier=organisation["id"].strip()[:200] if organisation else "",
            recipient_name=organisation["name"].strip()[:300] if organisation else "an individual",
        )
        stored.grants.append(grant)
        places = placements[label]
        share, rest = divmod(grant.amount_pence, len(places))
        for i, place in enumerate(places):
            ward = ward_of(place.area)
            grant.places.append(
                GrantPlace(
                    partnership_id=partnership.id,
                    area_id=place.area.id,
                    ward_id=ward.id if ward else None,
                    amount_pence=share + (1 if i < rest else 0),
                    placed_by=place.placed_by,
                )
            )
        if not any(p.area.id in covered or (ward_of(p.area) and ward_of(p.area).id in covered) for p in places):
            report.outside += 1
    db.session.flush()
    report.stored = stored
    log.info("grants file stored: %s grants for partnership %s", len(grants), partnership.id)
    return report


def _covered_area_ids(partnership: Partnership) -> set[int]:
    ids = {a.id for a in partnership.areas}
    lads = [a.id for a in partnership.areas if a.level is AreaLevel.LAD]
    if lads:
        ids |= set(db.session.scalars(select(Area.id).where(Area.parent_id.in_(lads), Area.level == AreaLevel.WARD)))
    return ids


def remove_file(grant_file: GrantFile) -> None:
    """Delete an imported file and its grants (to import a corrected one). Flushes; the caller commits."""
    db.session.delete(grant_file)
    db.session.flush()


def amount_text(pence: int | float | None) -> str:
    """£1,234 (whole pounds; pence below £100)."""
    if pence is None:
        return "—"
    pounds = Decimal(pence) / 100
    if pounds == 0:
        return "£0"
    try:
        return f"£{pounds:,.0f}" if abs(pounds) >= 100 else f"£{pounds:,.2f}"
    except InvalidOperation:  # pragma: no cover - Decimal of an int or float always formats
        return "—"
