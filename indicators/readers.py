"""Readers: turn a file (CSV or XLSX) of one of the known layouts into raw values, without judging them.

This module holds what every layout shares (options, the raw values read, reading a file, finding its header row,
column helpers); each layout's reader is in a module of its own: :mod:`indicators.readers_iod`,
:mod:`indicators.readers_publishers` (Fingertips, Nomis, Census bulk), :mod:`indicators.readers_tables` (tidy,
wide, measures); :mod:`indicators.layouts` recognises a file's layout and names each layout's reader.

The pipeline (:mod:`indicators.operations`) then reads the periods, matches the areas, parses the numbers and
stores. Readers know layouts only. First the **header row** is found and checked against the data: it is the
first row as wide as the table, and it must be made of column names — a row holding area codes or numbers is
data, and such a file is refused rather than read with a data row as its header. Then the layout is recognised
from the header:

- ``iod``: the English Indices of Deprivation, IoD2019 or IoD2025, in the official gov.uk files ("LSOA code
  (2011)" or "(2021)", "<domain> Score", "<domain> Rank (where 1 is most deprived)", "<domain> Decile (where 1 is
  most deprived 10% of LSOAs)") or the IoD2025 copy of the humaniverse/IMD package (``lsoa21_code``,
  ``IMD_score``, ``Income_rank``, ``Health_decile`` ...). Each domain is one indicator holding its score, rank and
  decile; the release (publisher, date, number of LSOAs ranked) comes from the headers.
- ``fingertips``: OHID Fingertips CSV exports (``Indicator ID, Indicator Name, Parent Code, ..., Area Code, ...,
  Time period, Value, Lower CI 95.0 limit, Upper CI 95.0 limit, ..., Count, Denominator, Value note, ...``).
- ``nomis``: Nomis API/download CSVs (``DATE_NAME, GEOGRAPHY_CODE, ..., MEASURES_NAME, OBS_VALUE, OBS_STATUS``).
- ``census``: Nomis bulk CSVs of the Census (2021 TS0xx tables, 2011 KS tables): ``date, geography, geography
  code, <one column per category>``.
- ``tidy``: one value per row, ``area_code, period, indicator, value[, unit]`` (other names through options).
- ``wide``: one row per area, one column per period (DfE, BEIS, DWP Stat-Xplore tables); title lines above the
  header and footnotes below are skipped.
- ``measures``: one row per area, one column per measure (each measure column an indicator named from its
  header; ``X score``/``X rank``/``X decile`` columns of one measure are read together). Units and polarity come
  from the names where they say so (rank, decile, score, %, count) and otherwise from ``--unit``/``--polarity``
  or ``--measure "COLUMN=UNIT,POLARITY"``: a measure whose unit or direction is unknown is refused, not guessed.
"""

from __future__ import annotations

import csv
import io
import re
import statistics
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from indicators import periods
from indicators.models import Polarity, ValueKind
from webapp.operations import OperationError

ONS_CODE = re.compile(r"^[EWSNK]\d{8}$")
MAX_HEADER_SEARCH = 30  # title lines above a table's header
NUMBERISH = re.compile(r"^[-+(]?£?\d[\d,]*(\.\d+)?%?\)?$|^[-+]?\.\d+$")

OGL = "Open Government Licence v3.0"
MHCLG = "Ministry of Housing, Communities and Local Government"


@dataclass
class Options:
    """How to read a file and describe what it holds; the CLI fills it from its options."""

    format: str = "auto"
    sheet: str | None = None
    dataset_title: str | None = None
    publisher: str | None = None
    licence: str | None = None
    source_url: str | None = None
    release_date: date | None = None
    release_note: str | None = None
    methodology_note: str | None = None
    indicator: str | None = None
    unit: str | None = None
    polarity: Polarity | None = None
    value_kind: ValueKind | None = None
    level: str | None = None
    vintage: int | None = None  # the geography vintage of the file's areas, when their codes cannot tell
    year_type: periods.PeriodKind = periods.PeriodKind.FINANCIAL_YEAR
    period: str | None = None  # the period of a single-period layout (IoD, measures) or of every row
    area_column: str | None = None
    period_column: str | None = None
    indicator_column: str | None = None
    value_column: str | None = None
    unit_column: str | None = None
    filters: list[tuple[str, str]] = field(default_factory=list)
    measures: list[tuple[str, str]] = field(default_factory=list)  # (column, "unit[,polarity]")
    dataset_key: str | None = None


@dataclass
class IndicatorSpec:
    name: str
    unit: str = ""
    polarity: Polarity | None = Polarity.NEUTRAL  # None: not known, must be asked for
    value_kind: ValueKind | None = None  # None: from the unit
    description: str = ""
    key: str = ""
    ranked_areas: int | None = None
    columns: list[str] = field(default_factory=list)  # where it was read from, for the report


@dataclass
class RawValue:
    """One cell as found: ``row`` is the 1-based line (CSV) or row (XLSX) number, ``column`` its header."""

    row: int
    column: str
    indicator: str
    area: str
    period: str
    value: str
    rank: str = ""
    decile: str = ""
    unit: str = ""
    lower: str = ""
    upper: str = ""
    note: str = ""


@dataclass
class Reading:
    format: str
    values: list[RawValue]
    indicators: dict[str, IndicatorSpec]
    skipped: list[tuple[int, str, str]] = field(default_factory=list)  # (row, column, reason)
    ignored_columns: list[str] = field(default_factory=list)
    ignored_lines: int = 0
    defaults: dict[str, str] = field(default_factory=dict)
    area_column: str = "area"  # dataset description the layout implies
    header_row: int = 1  # as a person counts rows
    layout: str = ""  # what was recognised, in words
    vintage_hint: int | None = None  # the geography vintage the headers name (LSOA code (2021) ...)
    notes: list[str] = field(default_factory=list)  # what the reader decided, for the report
    data_rows: int = 0  # rows holding data (not title, blank or footnote lines)


class Table:
    """A sheet of text cells with their row numbers as a person would see them in the file."""

    def __init__(self, rows: list[list[str]], name: str, sheet: str | None = None):
        self.rows = rows
        self.name = name
        self.sheet = sheet


# Reading files -----------------------------------------------------------------------------------------------------


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return f"{value.year:04d}-{value.month:02d}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_table(path: Path | str, sheet: str | None = None) -> Table:
    """The cells of a CSV file or of one sheet of an XLSX workbook (several sheets: ``sheet`` must say which)."""
    path = Path(path)
    if not path.exists():
        raise OperationError(f"No file at {path}.", "file")
    if path.stat().st_size == 0:
        raise OperationError(f"{path.name} is empty.", "file")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return _read_xlsx(path, sheet)
    if path.suffix.lower() == ".xls":
        raise OperationError("Old .xls workbooks cannot be read: save the sheet as .xlsx or CSV.", "file")
    raw = path.read_bytes()
    if raw[:4] == b"PK\x03\x04":
        return _read_xlsx(path, sheet)
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    sample = text[:8192]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    rows = [[c.strip() for c in row] for row in csv.reader(io.StringIO(text), delimiter=delimiter)]
    if not any(any(c for c in row) for row in rows):
        raise OperationError(f"{path.name} has no data (only empty lines).", "file")
    return Table(rows, path.name)


def _read_xlsx(path: Path, sheet: str | None) -> Table:
    from openpyxl import load_workbook  # noqa: PLC0415 - heavy: openpyxl is loaded only when an XLSX file is read

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        problem = exc.__class__.__name__
        raise OperationError(f"{path.name} is not a readable XLSX workbook ({problem}).", "file") from None
    try:
        names = workbook.sheetnames
        with_data = [n for n in names if workbook[n].max_row and workbook[n].max_row > 1]
        if sheet is None:
            if len(with_data) > 1:
                raise OperationError(
                    f"{path.name} has several sheets with data: {', '.join(with_data)}. Choose one with --sheet NAME.",
                    "sheet",
                )
            sheet = (with_data or names)[0]
        elif sheet not in names:
            raise OperationError(f"{path.name} has no sheet {sheet!r}; its sheets are: {', '.join(names)}.", "sheet")
        rows = [[_cell_text(v) for v in row] for row in workbook[sheet].iter_rows(values_only=True)]
    finally:
        workbook.close()
    if not any(any(c for c in row) for row in rows):
        raise OperationError(f"Sheet {sheet!r} of {path.name} is empty.", "file")
    return Table(rows, path.name, sheet)


# The header row -------------------------------------------------------------------------------------------------


def is_code_or_number(cell: str) -> bool:
    """An ONS area code or a number: what data rows hold and column names never are (years aside)."""
    text = cell.strip()
    return bool(ONS_CODE.match(text.upper()) or NUMBERISH.match(text.replace(" ", "")))


def _span(row: list[str]) -> int:
    return max((i + 1 for i, c in enumerate(row) if c), default=0)


def find_header(table: Table, year_type: periods.PeriodKind = periods.PeriodKind.FINANCIAL_YEAR) -> int:
    """The index of the header row, checked against the data below it.

    The header is the first row (within the first 30) at least 60% as wide as the table's typical row; rows above
    it are title lines. It must be made of names: a cell holding an ONS code or a number (other than a period
    such as 2019 or 2019/20, which wide tables use as column names) means the row is data and the file has no
    header commintel can trust, so it is refused. Repeated column names are refused too.
    """
    spans = [_span(row) for row in table.rows[:200] if any(row)]
    typical = statistics.median(spans) if spans else 0
    for i, row in enumerate(table.rows[:MAX_HEADER_SEARCH]):
        filled = [c for c in row if c]
        if len(filled) < 2 or _span(row) < 0.6 * typical:
            continue  # blank or title line
        data_like = [c for c in filled if is_code_or_number(c) and not periods.candidates(c, year_type)]
        if data_like:
            shown = ", ".join(repr(c) for c in data_like[:6])
            raise OperationError(
                f"Row {i + 1} of {table.name} is where the column names should be, but it holds area codes or "
                f"numbers ({shown}{' ...' if len(data_like) > 6 else ''}): it is a row of data, so the file has no "
                "header row commintel can read. Add a row of column names above the data (or remove the lines "
                "above it); nothing was imported.",
                "file",
            )
        seen: dict[str, int] = {}
        repeated = []
        for cell in filled:
            key = cell.strip().lower()
            if key in seen and cell not in repeated:
                repeated.append(cell)
            seen[key] = 1
        if repeated:
            raise OperationError(
                f"Row {i + 1} of {table.name}, the header, repeats column names ({', '.join(map(repr, repeated))}): "
                "rename them so each column says what it holds.",
                "file",
            )
        return i
    raise OperationError(f"No header row was found in the first {MAX_HEADER_SEARCH} rows of {table.name}.", "file")


# Recognising layouts -----------------------------------------------------------------------------------------------


def norm_name(header: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", header.strip().lower()).strip("_")


def period_columns(header: list[str], year_type: periods.PeriodKind) -> dict[int, str]:
    return {i: h for i, h in enumerate(header) if h and periods.candidates(h, year_type)}


# Helpers ------------------------------------------------------------------------------------------------------------


def column_index(header: list[str], wanted: str | None, defaults: tuple[str, ...], what: str) -> int | None:
    normed = [norm_name(h) for h in header]
    if wanted:
        key = norm_name(wanted)
        if key not in normed:
            found = ", ".join(repr(h) for h in header if h)
            raise OperationError(f"No {what} column named {wanted!r}; columns found: {found}.", what.replace(" ", "_"))
        return normed.index(key)
    for d in defaults:
        if d in normed:
            return normed.index(d)
    return None


def row_filters(header: list[str], options: Options) -> list[tuple[int | None, str]]:
    out = []
    for name, wanted in options.filters:
        index = column_index(header, name, (), "filter")
        out.append((index, wanted.strip().lower()))
    return out


def cell_at(row: list[str], i: int | None) -> str:
    return row[i] if i is not None and i < len(row) else ""


def body_rows(table: Table, header_index: int) -> list[tuple[int, list[str]]]:
    return list(enumerate(table.rows[header_index + 1 :], start=header_index + 2))


def new_reading(fmt: str, table: Table, header_index: int, **kw) -> Reading:
    reading = Reading(fmt, [], {}, header_row=header_index + 1, **kw)
    if reading.vintage_hint is None:
        reading.vintage_hint = vintage_from_header(reading.area_column)
    return reading


def vintage_from_header(name: str) -> int | None:
    """The geography vintage an area column's name gives: LSOA11CD, lsoa21_code, WD24CD, "LSOA code (2021)"."""
    if m := re.search(r"(?:lsoa|wd|ward|lad|ltla)_?(\d\d)(?:_?c(?:o)?d(?:e)?)?$", name.strip(), re.IGNORECASE):
        return 2000 + int(m.group(1))
    if m := re.search(r"\((19|20)(\d\d)\)$", name.strip()):
        return int(m.group(1) + m.group(2))
    return None


def unit_from_name(name: str) -> str | None:
    lowered = name.lower()
    if re.search(r"\bper\s+100,?000\b", lowered):
        return "per 100,000"
    if re.search(r"\bper\s+1,?000\b", lowered):
        return "per 1,000"
    if re.search(r"%|\bpercent(age)?\b|\bproportion\b", lowered):
        return "%"
    if re.search(r"\bdecile\b", lowered):
        return "decile"
    if re.search(r"\brank\b", lowered):
        return "rank"
    if re.search(r"\bscore\b", lowered):
        return "score"
    if re.search(r"\b(count|number of|total)\b", lowered):
        return "count"
    return None
