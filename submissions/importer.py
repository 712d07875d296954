"""Bulk import of observations from CSV or XLSX: read, guess the column mapping, check every row, store.

The same validation rules as the form and the API (:mod:`submissions.validation`) check each row. A file with any bad
row stores nothing unless the caller asks for the valid rows only; the bad rows can then be written out as CSV.
Rows whose reference is already stored for the organisation are skipped, so importing a file twice adds nothing.
Everything here flushes and never commits: the caller's one transaction stores the whole import or none of it.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from xml.parsers import expat

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
             "what_you_have_seen", "free_text", "narrative", "summary", "what_we_heard", "what_we_saw",
             "what_happened", "what_did_you_see", "what_people_said", "story"),
    "kind": ("kind", "type", "need_or_asset", "need_asset", "asset_or_need", "need_or_strength"),
    "category": ("category", "theme", "topic", "issue", "subject", "category_of_need", "need_category"),
    "area": ("area", "ward", "lsoa", "area_code", "ward_code", "ward_name", "lsoa_code", "location", "neighbourhood",
             "ward_area", "area_ward", "ward_or_area", "area_or_ward", "where", "place"),
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
    # Row number → the columns of that row holding bytes that are not UTF-8 text (a CSV with stray bytes).
    bad_bytes: dict[int, list[str]] = field(default_factory=dict)

    def to_json(self) -> str:
        """The parsed table as JSON (kept between the import steps, so the file is parsed once)."""
        bad_bytes = {str(k): v for k, v in self.bad_bytes.items()}
        body = {"headers": self.headers, "rows": self.rows, "encoding": self.encoding, "bad_bytes": bad_bytes}
        return json.dumps(body, default=_encode_cell)

    @classmethod
    def from_json(cls, text: str) -> Table:
        raw = json.loads(text, object_hook=_decode_cell)
        return cls(raw["headers"], [(n, cells) for n, cells in raw["rows"]], raw["encoding"],
                   {int(k): v for k, v in raw["bad_bytes"].items()})  # fmt: skip


def _encode_cell(value: Any) -> dict:
    # Spreadsheet cells that JSON has no type for, tagged so that they come back as they were.
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, time):
        return {"$time": value.isoformat()}
    if isinstance(value, timedelta):
        return {"$seconds": value.total_seconds()}
    return {"$text": str(value)}


def _decode_cell(obj: dict) -> Any:
    if len(obj) == 1:
        ((tag, value),) = obj.items()
        if tag == "$datetime":
            return datetime.fromisoformat(value)
        if tag == "$date":
            return date.fromisoformat(value)
        if tag == "$time":
            return time.fromisoformat(value)
        if tag == "$seconds":
            return timedelta(seconds=value)
        if tag == "$text":
            return value
    return obj


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
#
# An upload's cost is bounded before anything is parsed: the request is at most COMMINTEL_MAX_UPLOAD_MB; an XLSX
# (a zip of XML parts) is refused when a part would unpack to more than MAX_XLSX_PART_BYTES, all parts to more than
# MAX_XLSX_TOTAL_BYTES, or a large part is compressed more than MAX_XLSX_RATIO to 1; its sheets and shared strings
# are then scanned as a stream (constant memory) for well-formed XML, cells longer than Excel's own limit, row
# numbers beyond Excel's, more than MAX_ROWS rows, or values below row MAX_SHEET_ROW; only then does openpyxl read
# it, in read-only (streaming) mode, ignoring the sheet's declared dimensions and no wider than the header row. A
# CSV stops at MAX_ROWS too.

MAX_CELL_CHARS = 32_767  # Excel's own limit for one cell
MAX_COLUMNS = 200
MAX_XLSX_PART_BYTES = 64 * 1024 * 1024
MAX_XLSX_TOTAL_BYTES = 160 * 1024 * 1024
MAX_XLSX_RATIO = 200
MAX_SHARED_STRINGS = 1_000_000
EXCEL_MAX_ROW = 1_048_576
MAX_SHEET_ROW = 2 * MAX_ROWS  # a value below this row: the sheet is longer than any file we import
_BAD_BYTES = re.compile("[\udc80-\udcff]")
# A well-formed multi-byte UTF-8 character: its presence means the file is UTF-8, whatever else it holds.
_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}|\xed[\x80-\x9f][\x80-\xbf]"
    rb"|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)
ENCODING_STRAY_BYTES = "utf-8, with bytes that are not text"
STRAY_BYTES_MESSAGE = (
    "Holds bytes that are not UTF-8 text (shown as \ufffd). Fix them, or save the file as 'CSV UTF-8' again."
)


def _norm(header: str) -> str:
    return re.sub(r"[\s_\-/?]+", "_", str(header).strip().lower()).strip("_")


def decode_text(data: bytes) -> tuple[str, str]:
    """Text of a CSV file and the encoding it was read with.

    UTF-8 (with or without BOM) when it is valid UTF-8. Windows-1252 only when the file is wholly so: it decodes as
    Windows-1252 and holds not one well-formed UTF-8 multi-byte character (a UTF-8 file with one stray byte is not
    Windows-1252: reading it so would turn every accented letter into two wrong ones). Otherwise UTF-8 with each
    stray byte kept as a marker (a lone surrogate), so that :func:`read_table` can say which rows hold them.
    """
    bom = data.startswith(b"\xef\xbb\xbf")
    encoding = "utf-8-sig" if bom else "utf-8"
    try:
        return data.decode(encoding), encoding
    except UnicodeDecodeError:
        pass
    if not bom and not _UTF8_MULTIBYTE.search(data):
        try:
            return data.decode("cp1252"), "windows-1252"
        except UnicodeDecodeError:
            raise ImportFileError(
                "The file's text encoding is not UTF-8 or Windows-1252. Save it as 'CSV UTF-8' and try again.", "file"
            ) from None
    return data.decode(encoding, errors="surrogateescape"), ENCODING_STRAY_BYTES


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
    return table


def _too_many_rows() -> ImportFileError:
    return ImportFileError(f"The file has more than {MAX_ROWS:,} rows; split it into smaller files.", "file")


def _read_csv(data: bytes) -> Table:
    text, encoding = decode_text(data)
    sample = text[:8192]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        table = _table(reader, encoding)
    except csv.Error as exc:
        raise ImportFileError(f"The CSV file cannot be read: {exc}.", "file") from None
    if encoding == ENCODING_STRAY_BYTES:
        _mark_stray_bytes(table)
    return table


def _mark_stray_bytes(table: Table) -> None:
    """Rows holding bytes that are not UTF-8 text are listed (row → columns) and the bytes shown as U+FFFD."""
    if any(_BAD_BYTES.search(h) for h in table.headers):
        raise ImportFileError(
            "The header row holds bytes that are not UTF-8 text. Save the file as 'CSV UTF-8' and try again.", "file"
        )
    for row_number, cells in table.rows:
        for i, cell in enumerate(cells):
            if isinstance(cell, str) and _BAD_BYTES.search(cell):
                table.bad_bytes.setdefault(row_number, []).append(table.headers[i] or f"column {i + 1}")
                cells[i] = _BAD_BYTES.sub("\ufffd", cell)


def _check_xlsx_parts(archive: zipfile.ZipFile) -> None:
    """Refuse an archive whose parts would unpack to too much (declared sizes; reading never goes past them)."""
    total = 0
    for info in archive.infolist():
        total += info.file_size
        ratio = info.file_size / max(1, info.compress_size)
        if (
            info.file_size > MAX_XLSX_PART_BYTES
            or total > MAX_XLSX_TOTAL_BYTES
            or (info.file_size > 1024 * 1024 and ratio > MAX_XLSX_RATIO)
        ):
            log.info("xlsx refused: part of %s bytes (ratio %.0f), %s bytes in all", info.file_size, ratio, total)
            raise ImportFileError(
                "The XLSX file unpacks to far more data than a spreadsheet of observations holds, so it was not "
                f"opened. Save it as CSV, or split it into files of at most {MAX_ROWS:,} rows.",
                "file",
            )


class _ScanStop(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _scan_xml_part(archive: zipfile.ZipFile, name: str, sheet: bool) -> None:
    """Stream one XML part through expat: well-formed, no text longer than an Excel cell, and for a sheet no row
    number beyond Excel's and at most MAX_ROWS rows with values (plus the header). Constant memory."""
    parser = expat.ParserCreate()
    parser.buffer_text = True
    state = {"chars": 0, "rows": 0, "row_has_value": False, "strings": 0, "row": 0}

    def start(tag: str, attrs: dict) -> None:
        state["chars"] = 0
        local = tag.rsplit(":", 1)[-1]
        if local == "row":
            ref = attrs.get("r", "")
            state["row"] = int(ref) if ref.isdigit() else state["row"] + 1
            state["row_has_value"] = False
            if state["row"] > EXCEL_MAX_ROW:
                raise _ScanStop("A sheet of the XLSX file numbers its rows beyond what Excel allows.")
            if sheet and state["row"] > MAX_SHEET_ROW:
                state["far_row"] = True
        elif local in ("v", "is"):
            state["row_has_value"] = True
        elif local == "si":
            state["strings"] += 1
            if state["strings"] > MAX_SHARED_STRINGS:
                raise _ScanStop(f"The XLSX file holds more than {MAX_SHARED_STRINGS:,} different texts.")

    def end(tag: str) -> None:
        if sheet and tag.rsplit(":", 1)[-1] == "row" and state["row_has_value"]:
            state["rows"] += 1
            # Too many rows with values, or a value so far down that the sheet spans more rows than we import
            # (blank rows between are allowed up to MAX_SHEET_ROW).
            if state["rows"] > MAX_ROWS + 1 or state.get("far_row"):
                raise _ScanStop("too many rows")

    def text(data: str) -> None:
        state["chars"] += len(data)
        if state["chars"] > MAX_CELL_CHARS:
            where = f"row {state['row']}" if sheet and state["row"] else "a cell"
            raise _ScanStop(
                f"The XLSX file has a cell ({where}) longer than {MAX_CELL_CHARS:,} characters, Excel's own limit."
            )

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    with archive.open(name) as part:
        while chunk := part.read(1024 * 1024):
            parser.Parse(chunk, False)
    parser.Parse(b"", True)


def _read_xlsx(data: bytes) -> Table:
    from openpyxl import load_workbook  # noqa: PLC0415 - heavy: loaded only when an XLSX file is read

    unreadable = ImportFileError("The XLSX file cannot be read. Save it again from your spreadsheet.", "file")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            _check_xlsx_parts(archive)
            for name in archive.namelist():
                if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                    _scan_xml_part(archive, name, sheet=True)
                elif name.endswith(".xml") or name.endswith(".rels"):
                    _scan_xml_part(archive, name, sheet=False)
    except _ScanStop as stop:
        if stop.message == "too many rows":
            raise _too_many_rows() from None
        raise ImportFileError(stop.message, "file") from None
    except expat.ExpatError as exc:
        log.info("xlsx with malformed xml: %s", exc.code)
        raise ImportFileError(
            "The XLSX file is damaged (one of its parts is not well-formed XML). Save it again from your "
            "spreadsheet, or as CSV.",
            "file",
        ) from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, RuntimeError, NotImplementedError) as exc:
        log.info("unreadable xlsx: %s", type(exc).__name__)
        raise unreadable from None
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
    except Exception as exc:  # noqa: BLE001 - a hostile file can make the parser raise anything: it is unreadable
        log.info("unreadable xlsx: %s", type(exc).__name__)
        raise unreadable from None
    try:
        sheet = workbook.worksheets[0]
        # Never trust the declared size (<dimension ref="A1:XFD1048576"/> would pad every row to 16,384 cells).
        sheet.reset_dimensions()
        table = _table(_xlsx_rows(sheet), "xlsx")
    except ImportFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - as above
        log.info("unreadable xlsx sheet: %s", type(exc).__name__)
        raise unreadable from None
    finally:
        workbook.close()
    return table


def _xlsx_rows(sheet) -> Iterator[list[Any]]:
    """The sheet's rows, no wider than its header row (the first non-empty one, at most MAX_COLUMNS wide)."""
    header_at = 0
    for number, row in enumerate(sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS), start=1):
        yield list(row)
        if not all(_empty(c) for c in row):
            header_at = number
            width = max((i + 1 for i, c in enumerate(row) if not _empty(c)), default=1)
            break
    if not header_at:
        return
    for row in sheet.iter_rows(min_row=header_at + 1, values_only=True, max_col=width):
        yield list(row)


def _table(rows: Iterable[list[Any]], encoding: str) -> Table:
    """The header (first non-empty row) and the numbered non-empty rows after it, as wide as the header; stops with
    ImportFileError past MAX_ROWS rows or at a cell longer than MAX_CELL_CHARS."""
    headers: list[str] | None = None
    table_rows: list[tuple[int, list[Any]]] = []
    for number, cells in enumerate(rows, start=1):
        if all(_empty(c) for c in cells):
            continue
        for i, c in enumerate(cells):
            if isinstance(c, str) and len(c) > MAX_CELL_CHARS:
                raise ImportFileError(f"Row {number}, column {i + 1} holds more than {MAX_CELL_CHARS:,} characters.",
                                      "file")  # fmt: skip
        if headers is None:
            headers = [("" if c is None else str(c)).strip() for c in cells[:MAX_COLUMNS]]
            while headers and not headers[-1]:
                headers.pop()
            continue
        if len(table_rows) >= MAX_ROWS:
            raise _too_many_rows()
        table_rows.append((number, list(cells[: len(headers)]) + [None] * (len(headers) - len(cells))))
    if headers is None:
        raise ImportFileError("The file is empty.", "file")
    return Table(headers, table_rows, encoding)


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


# Words that name a field inside a longer header ("Date seen", "Category of need", "Number of people affected").
HEADER_WORDS: dict[str, frozenset[str]] = {
    "text": frozenset({"text", "observation", "observations", "comment", "comments", "description", "notes",
                       "details", "feedback", "narrative", "heard", "story"}),
    "category": frozenset({"category", "theme", "topic"}),
    "area": frozenset({"area", "ward", "lsoa", "neighbourhood", "location"}),
    "period": frozenset({"date", "month", "period", "when"}),
    "people_affected": frozenset({"people", "number", "count", "many"}),
    "trend": frozenset({"trend"}),
    "confidence": frozenset({"confidence"}),
    "external_ref": frozenset({"ref", "reference", "id"}),
}  # fmt: skip


def guess_mapping(headers: list[str]) -> dict[str, str]:
    """field name → header, guessed from the headers' names: exact names, labels and common spellings first; then a
    header whose words name exactly one field not matched yet ("Ward / area", "Category of need"). A header whose
    words name two fields is left for the person to match."""
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
    for header in headers:
        if not header or header in used:
            continue
        words = set(_norm(header).split("_"))
        named = [name for name, keys in HEADER_WORDS.items() if words & keys]
        if len(named) == 1 and named[0] not in mapping:
            mapping[named[0]] = header
            used.add(header)
    return mapping


def template_rows(categories: list[str], partnerships: list[str], area: str, today: date) -> list[list[str]]:
    """A file to fill in: the header row (the fields' labels, which :func:`guess_mapping` matches) and one example
    row that passes the checks as it is (the caller's category, area and partnership)."""
    example = {
        "kind": "need", "category": categories[0] if categories else "",
        "text": "Example: families at the community centre say food parcels ran out by Wednesday. Replace this row.",
        "area": area, "period": f"{today:%Y-%m}", "people_affected": "12", "groups": "", "trend": "worse",
        "source": "frontline_contact", "confidence": "medium", "sharing_level": "partnership",
        "consent_to_quote": "no", "consent_to_quote_funders": "no", "external_ref": "EXAMPLE-1",
        "partnership": partnerships[0] if len(partnerships) > 1 else "",
    }  # fmt: skip
    fields = [f for f in FIELDS if f.name != "partnership" or len(partnerships) > 1]
    return [[f.label for f in fields], [example.get(f.name, "") for f in fields]]


def template_xlsx(rows: list[list[str]], choices: dict[str, list[str]]) -> bytes:
    """The template as a workbook: the rows to fill in, and a sheet with what each column accepts."""
    from openpyxl import Workbook  # noqa: PLC0415 - heavy: loaded only when an XLSX template is made
    from openpyxl.styles import Font  # noqa: PLC0415 - heavy: as above

    book = Workbook()
    sheet = book.active
    sheet.title = "Observations"
    for row in rows:
        sheet.append(row)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    help_sheet = book.create_sheet("What each column takes")
    help_sheet.append(["Column", "Required", "What to put in it", "Allowed values"])
    for cell in help_sheet[1]:
        cell.font = Font(bold=True)
    for f in FIELDS:
        allowed = choices.get(f.name) or list(f.choices or ())
        help_sheet.append([f.label, "yes" if f.required else "no", f.description, ", ".join(allowed)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


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
        if row_number in table.bad_bytes:
            for column in table.bad_bytes[row_number]:
                preview.errors.append(RowError(row_number, column, STRAY_BYTES_MESSAGE))
            preview.bad_rows[row_number] = cells
            continue
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
