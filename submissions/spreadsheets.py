"""Reading an uploaded CSV or XLSX file into a :class:`Table` of cells, safely: its cost is bounded before anything
is parsed (see "Reading" below), bytes that are not text are marked, not guessed at. What the cells mean is
:mod:`submissions.importer`'s job."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from xml.parsers import expat

from webapp.operations import OperationError

log = logging.getLogger(__name__)

ALLOWED_EXTENSIONS = (".csv", ".xlsx")
MAX_ROWS = 100_000


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
        if not all(is_empty(c) for c in row):
            header_at = number
            width = max((i + 1 for i, c in enumerate(row) if not is_empty(c)), default=1)
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
        if all(is_empty(c) for c in cells):
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


def is_empty(value: Any) -> bool:
    """A cell with nothing in it (None, or only spaces)."""
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
