"""The 360Giving Data Standard as commintel reads it: the vendored schemas and their validators, the standard's
flattened column titles, and a file's grants read from its CSV/XLSX or JSON layout, typed as flatten-tool types them
(nothing judged yet: :mod:`indicators.grants.importer` validates and stores)."""

from __future__ import annotations

import csv
import functools
import json
import logging
import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from submissions.spreadsheets import ImportFileError, read_table
from webapp.operations import OperationError

log = logging.getLogger(__name__)

SCHEMA_DIR = Path(__file__).resolve().parent / "schema"
MAX_GRANTS = 20_000  # far more than a year of one funder's grants to one city; a larger file is split first


class GrantFileError(OperationError):
    """The file as a whole cannot be read (wrong type, not JSON, no grants, too many)."""


@dataclass(frozen=True)
class Problem:
    row: str  # "Row 3" (CSV/XLSX: the spreadsheet's row number) or "Grant 2" (JSON: its place in "grants")
    field: str  # the standard's title ("Amount Awarded", "Recipient Org:Identifier")
    problem: str


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
        Problem("Package", "/".join(str(p) for p in e.absolute_path) or "package", short_message(e.message))
        for e in package_validator().iter_errors(package)
    ]
    return [(f"Grant {i}", g) for i, g in enumerate(grants, start=1)], problems


# Validation ---------------------------------------------------------------------------------------------------------


def short_message(message: str) -> str:
    return message if len(message) <= 200 else message[:197] + "..."


def layout_of(filename: str) -> str:
    name = (filename or "").lower().strip()
    for layout in ("csv", "xlsx", "json"):
        if name.endswith(f".{layout}"):
            return layout
    raise GrantFileError("Upload a 360Giving file: .csv, .xlsx or .json.", "file")
