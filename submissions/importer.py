"""Bulk import of observations from CSV or XLSX: read, guess the column mapping, check every row, store.

The same validation rules as the form and the API (:mod:`submissions.validation`) check each row. A file with any bad
row stores nothing unless the caller asks for the valid rows only; the bad rows can then be written out as CSV.
Rows whose reference is already stored for the organisation are skipped, so importing a file twice adds nothing.
Everything here flushes and never commits: the caller's one transaction stores the whole import or none of it.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from submissions import operations as ops
from submissions.validation import FIELDS, FIELDS_BY_NAME, CleanObservation, Context, ValidationFailed, validate
from webapp.models import Organisation, Partnership, User
from webapp.operations import OperationError, record

log = logging.getLogger(__name__)

ALLOWED_EXTENSIONS = (".csv", ".xlsx")
MAX_ROWS = 100_000

# Header spellings people use for each field, compared after lower-casing and squashing spaces/underscores.
HEADER_GUESSES: dict[str, tuple[str, ...]] = {
    "text": ("text", "observation", "comment", "comments", "description", "notes", "note", "details", "feedback",
             "what_you_have_seen", "free_text", "narrative", "summary"),
    "kind": ("kind", "type", "need_or_asset", "need_asset"),
    "category": ("category", "theme", "topic", "issue", "subject"),
    "area": ("area", "ward", "lsoa", "area_code", "ward_code", "ward_name", "lsoa_code", "location", "neighbourhood"),
    "period": ("period", "date", "month", "when", "date_seen", "observed", "observed_on"),
    "people_affected": ("people_affected", "people", "number_of_people", "count", "number", "how_many"),
    "groups": ("groups", "groups_affected", "who", "client_group"),
    "trend": ("trend", "direction", "change"),
    "source": ("source", "how_we_know"),
    "confidence": ("confidence", "certainty"),
    "sharing_level": ("sharing_level", "sharing", "share_with", "visibility"),
    "consent_to_quote": ("consent_to_quote", "consent", "quote_consent", "can_quote"),
    "consent_to_quote_funders": ("consent_to_quote_funders", "funders_quote", "quote_funders", "funders_consent"),
    "external_ref": ("external_ref", "ref", "reference", "id", "case_id", "record_id", "our_ref", "your_reference"),
    "partnership": ("partnership",),
}  # fmt: skip
MAPPABLE = tuple(f.name for f in FIELDS)
# Fields an import may set for every row when the file has no column for them.
DEFAULTABLE = ("kind", "category", "sharing_level", "source", "confidence", "trend", "partnership")


class ImportFileError(OperationError):
    """The file as a whole cannot be imported (wrong type, empty, unreadable, duplicate headers...)."""


@dataclass
class Table:
    headers: list[str]
    rows: list[tuple[int, list[Any]]]  # (spreadsheet row number, cell values)
    encoding: str = ""


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    message: str


@dataclass
class Preview:
    valid: list[tuple[int, CleanObservation]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    already_imported: list[int] = field(default_factory=list)
    bad_rows: dict[int, list[Any]] = field(default_factory=dict)

    @property
    def bad_row_count(self) -> int:
        return len(self.bad_rows)


@dataclass
class ImportResult:
    imported_ids: list[int]
    preview: Preview

    @property
    def imported(self) -> int:
        return len(self.imported_ids)


class ImportRejected(OperationError):
    """Some rows are bad and the caller did not ask for the valid rows only: nothing was stored."""

    def __init__(self, preview: Preview):
        self.preview = preview
        super().__init__(
            f"{preview.bad_row_count} row(s) have problems, so nothing was imported. Fix them, or import the "
            "valid rows only."
        )


# Reading --------------------------------------------------------------------------------------------------------


def _norm(header: str) -> str:
    return re.sub(r"[\s_\-/?]+", "_", str(header).strip().lower()).strip("_")


def decode_text(data: bytes) -> tuple[str, str]:
    """Text of a CSV file in UTF-8 (with or without BOM) or Windows-1252, and the encoding used."""
    try:
        encoding = "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
        return data.decode(encoding), encoding
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "windows-1252"
    except UnicodeDecodeError:
        raise ImportFileError(
            "The file's text encoding is not UTF-8 or Windows-1252. Save it as 'CSV UTF-8' and try again.", "file"
        ) from None


def read_table(data: bytes, filename: str) -> Table:
    """Read a CSV or XLSX upload into a header row and numbered data rows; ImportFileError says what is wrong."""
    name = (filename or "").lower().strip()
    if not name.endswith(ALLOWED_EXTENSIONS):
        raise ImportFileError("Upload a CSV or XLSX file (the name must end in .csv or .xlsx).", "file")
    if not data or not data.strip():
        raise ImportFileError("The file is empty.", "file")
    if name.endswith(".xlsx"):
        if not data.startswith(b"PK\x03\x04"):
            raise ImportFileError("This is not an XLSX file. Save it from your spreadsheet as .xlsx or .csv.", "file")
        table = _read_xlsx(data)
    else:
        if b"\x00" in data[:8192] or data.startswith(b"PK\x03\x04"):
            raise ImportFileError("This is not a CSV file (it holds binary data).", "file")
        table = _read_csv(data)
    _check_headers(table.headers)
    if not table.rows:
        raise ImportFileError("The file has a header row but no data rows.", "file")
    if len(table.rows) > MAX_ROWS:
        raise ImportFileError(f"The file has more than {MAX_ROWS:,} rows; split it into smaller files.", "file")
    return table


def _read_csv(data: bytes) -> Table:
    text, encoding = decode_text(data)
    sample = text[:8192]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        reader = csv.reader(io.StringIO(text, newline=""), dialect)
        all_rows = list(reader)
    except csv.Error as exc:
        raise ImportFileError(f"The CSV file cannot be read: {exc}.", "file") from None
    return _table(all_rows, encoding)


def _read_xlsx(data: bytes) -> Table:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        log.info("unreadable xlsx: %s", type(exc).__name__)
        raise ImportFileError("The XLSX file cannot be read. Save it again from your spreadsheet.", "file") from None
    try:
        sheet = workbook.worksheets[0]
        all_rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()
    return _table(all_rows, "xlsx")


def _table(all_rows: list[list[Any]], encoding: str) -> Table:
    # Skip leading empty rows; the first non-empty row is the header.
    start = 0
    while start < len(all_rows) and all(_empty(c) for c in all_rows[start]):
        start += 1
    if start == len(all_rows):
        raise ImportFileError("The file is empty.", "file")
    headers = [("" if c is None else str(c)).strip() for c in all_rows[start]]
    while headers and not headers[-1]:
        headers.pop()
    rows = []
    for index in range(start + 1, len(all_rows)):
        cells = all_rows[index]
        if all(_empty(c) for c in cells):
            continue
        cells = list(cells[: len(headers)]) + [None] * (len(headers) - len(cells))
        rows.append((index + 1, cells))
    return Table(headers, rows, encoding)


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _check_headers(headers: list[str]) -> None:
    if not any(headers):
        raise ImportFileError("The first row must name the columns; it is empty.", "file")
    seen: dict[str, str] = {}
    duplicates = []
    for h in headers:
        if not h:
            continue
        key = h.lower()
        if key in seen:
            duplicates.append(h)
        seen[key] = h
    if duplicates:
        names = ", ".join(repr(d) for d in dict.fromkeys(duplicates))
        raise ImportFileError(f"Column names must be unique; these appear more than once: {names}.", "file")


# Mapping --------------------------------------------------------------------------------------------------------


def guess_mapping(headers: list[str]) -> dict[str, str]:
    """field name → header, guessed from the headers' names (exact names and labels first, then common spellings)."""
    normalised = {_norm(h): h for h in headers if h}
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for f in FIELDS:
        for candidate in (f.name, _norm(f.label), *HEADER_GUESSES.get(f.name, ())):
            header = normalised.get(_norm(candidate))
            if header is not None and header not in used:
                mapping[f.name] = header
                used.add(header)
                break
    return mapping


def check_mapping(headers: list[str], mapping: Mapping[str, str | None], defaults: Mapping[str, str]) -> dict:
    """The mapping with unknown headers refused and required fields covered by a column or a default."""
    clean = {}
    for name, header in mapping.items():
        if not header:
            continue
        if name not in FIELDS_BY_NAME:
            raise ImportFileError(f"Unknown field {name!r}.", name)
        if header not in headers:
            raise ImportFileError(f"The file has no column {header!r}.", name)
        clean[name] = header
    for f in FIELDS:
        if f.required and f.name not in clean and not defaults.get(f.name):
            hint = " or choose one value for every row" if f.name in DEFAULTABLE else ""
            raise ImportFileError(f"Choose the column that holds '{f.label}'{hint}.", f.name)
    return clean


# Checking and storing -------------------------------------------------------------------------------------------


def check_rows(
    table: Table,
    mapping: Mapping[str, str],
    defaults: Mapping[str, str],
    context: Context,
) -> Preview:
    """Validate every row with the shared rules; list every bad field of every row by row number and column."""
    organisation = context.organisation
    stored_refs = ops.existing_refs(organisation.id) if organisation else set()
    seen_refs: dict[str, int] = {}
    index = {h: i for i, h in enumerate(table.headers) if h}
    column_of = {name: header for name, header in mapping.items()}
    preview = Preview()
    for row_number, cells in table.rows:
        data: dict[str, Any] = {k: v for k, v in defaults.items() if v}
        for name, header in mapping.items():
            value = cells[index[header]]
            if not _empty(value) or name not in data:
                data[name] = value
        try:
            clean = validate(data, context)
        except ValidationFailed as failed:
            for name, message in failed.errors.items():
                preview.errors.append(RowError(row_number, column_of.get(name, FIELDS_BY_NAME[name].label), message))
            preview.bad_rows[row_number] = cells
            continue
        ref = clean.external_ref
        if ref is not None:
            if ref in stored_refs:
                preview.already_imported.append(row_number)
                continue
            if ref in seen_refs:
                message = f"The reference {ref!r} repeats row {seen_refs[ref]}."
                preview.errors.append(RowError(row_number, column_of.get("external_ref", "reference"), message))
                preview.bad_rows[row_number] = cells
                continue
            seen_refs[ref] = row_number
        preview.valid.append((row_number, clean))
    return preview


def import_table(
    table: Table,
    mapping: Mapping[str, str | None],
    organisation: Organisation,
    actor: User | None,
    *,
    defaults: Mapping[str, str] | None = None,
    valid_rows_only: bool = False,
    partnership: Partnership | None = None,
    via: str = "import",
) -> ImportResult:
    """Check every row, then store the valid ones: all or nothing unless ``valid_rows_only``.

    Raises ImportRejected (nothing stored) when a row is bad and ``valid_rows_only`` is false.
    """
    defaults = dict(defaults or {})
    clean_mapping = check_mapping(table.headers, mapping, defaults)
    context = ops.context_for(organisation, partnership)
    preview = check_rows(table, clean_mapping, defaults, context)
    if preview.errors and not valid_rows_only:
        raise ImportRejected(preview)
    ids = ops.store_clean_rows(preview.valid, organisation, actor)
    record(
        "observation.import",
        "organisation",
        organisation.id,
        actor,
        via=via,
        imported=len(ids),
        skipped=preview.bad_row_count,
        already_imported=len(preview.already_imported),
    )
    log.info("imported %s observations for organisation %s (%s rows skipped)", len(ids), organisation.id,
             preview.bad_row_count)  # fmt: skip
    return ImportResult(ids, preview)


def skipped_rows_csv(table: Table, preview: Preview) -> str:
    """The bad rows as CSV, with their row number and reasons first, ready to fix and import again."""
    reasons: dict[int, list[str]] = {}
    for e in preview.errors:
        reasons.setdefault(e.row, []).append(f"{e.column}: {e.message}")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["row", "problems", *table.headers])
    for row_number, cells in sorted(preview.bad_rows.items()):
        values = ["" if c is None else c for c in cells]
        writer.writerow([row_number, ops.neutralise("; ".join(reasons.get(row_number, []))),
                         *(ops.neutralise(v) for v in values)])  # fmt: skip
    return out.getvalue()
