"""Readers: turn a file (CSV or XLSX) of one of the known layouts into raw values, without judging them.

The pipeline (:mod:`indicators.operations`) then reads the periods, matches the areas, parses the numbers and
stores. Readers know layouts only:

- ``iod``: the English Indices of Deprivation "File 2" (ranks and deciles of the IMD and its seven domains per
  LSOA), recognised from its headers ("... Rank (where 1 is most deprived)", "... Decile (where 1 is ...)").
- ``tidy``: one value per row, columns ``area_code, period, indicator, value[, unit]`` (other names through the
  ``--area-column``/``--period-column``/... options; ``area_name`` instead of ``area_code`` is matched by name).
- ``wide``: one row per area (code or name), one column per period; title lines above the header, footnotes below
  it and annotation columns (region, notes) are ignored.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from indicators import periods
from indicators.models import Polarity, ValueKind
from webapp.operations import OperationError

ONS_CODE = re.compile(r"^[EWSNK]\d{8}$")
MAX_HEADER_SEARCH = 30  # title lines above a wide table's header


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
    methodology_note: str | None = None
    indicator: str | None = None
    unit: str | None = None
    polarity: Polarity | None = None
    value_kind: ValueKind | None = None
    level: str | None = None
    year_type: periods.PeriodKind = periods.PeriodKind.FINANCIAL_YEAR
    period: str | None = None  # the period of a single-period layout (IoD) or of every row
    area_column: str | None = None
    period_column: str | None = None
    indicator_column: str | None = None
    value_column: str | None = None
    unit_column: str | None = None
    filters: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class IndicatorSpec:
    name: str
    unit: str = ""
    polarity: Polarity = Polarity.NEUTRAL
    value_kind: ValueKind = ValueKind.RATE
    description: str = ""


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
    from openpyxl import load_workbook

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


# Recognising layouts -----------------------------------------------------------------------------------------------

_IOD_COLUMN = re.compile(r"^(?P<name>.+?)\s+(?P<what>Rank|Decile)\s*\(where 1 is most deprived", re.IGNORECASE)
_IOD_AREA = ("lsoa code (2011)", "lsoa11cd", "lsoa code")


def _norm(header: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", header.strip().lower()).strip("_")


def _first_nonempty_row(table: Table) -> int:
    for i, row in enumerate(table.rows):
        if any(row):
            return i
    return 0


def looks_like_iod(header: list[str]) -> bool:
    lowered = {h.strip().lower() for h in header}
    return bool(lowered & set(_IOD_AREA)) and sum(1 for h in header if _IOD_COLUMN.match(h)) >= 2


TIDY_DEFAULTS = {"area": ("area_code", "area_name"), "period": ("period",), "indicator": ("indicator",)}


def looks_like_tidy(header: list[str], options: Options) -> bool:
    normed = {_norm(h) for h in header}
    area = options.area_column or next((c for c in TIDY_DEFAULTS["area"] if c in normed), None)
    period = options.period_column or ("period" if "period" in normed else None)
    value = options.value_column or ("value" if "value" in normed else None)
    indicator_ok = bool(options.indicator) or bool(options.indicator_column) or "indicator" in normed
    return bool(area and period and value and indicator_ok)


def find_wide_header(table: Table, year_type: periods.PeriodKind) -> int | None:
    for i, row in enumerate(table.rows[:MAX_HEADER_SEARCH]):
        filled = [c for c in row if c]
        if len(filled) >= 2 and any(periods.candidates(c, year_type) for c in filled):
            return i
    return None


FORMATS = {
    "iod": 'English Indices of Deprivation "File 2": LSOA code column and "<domain> Rank/Decile (where 1 is most '
    'deprived ...)" columns',
    "tidy": "tidy long: area_code (or area_name), period, indicator, value[, unit] — one value per row",
    "wide": "wide time series: an area code or name column and one column per period (2019, 2019/20, 201920, "
    "2015-08, August 2015, 2019 Q1 ...)",
}


def detect(table: Table, options: Options) -> str:
    header = table.rows[_first_nonempty_row(table)]
    if looks_like_iod(header):
        return "iod"
    if looks_like_tidy(header, options):
        return "tidy"
    if find_wide_header(table, options.year_type) is not None:
        return "wide"
    found = ", ".join(repr(h) for h in header if h) or "none"
    formats = "; ".join(f"{name} ({text})" for name, text in FORMATS.items())
    raise OperationError(
        f"The layout of {table.name} is not one commintel reads. Formats: {formats}. Columns found: {found}. "
        "Name the format with --format and the columns with --area-column, --period-column, --value-column.",
        "format",
    )


# Readers -----------------------------------------------------------------------------------------------------------

IOD_DESCRIPTIONS = {
    "Index of Multiple Deprivation (IMD)": "The overall Index of Multiple Deprivation, combining the seven domains.",
}


def read_iod(table: Table, options: Options) -> Reading:
    start = _first_nonempty_row(table)
    header = table.rows[start]
    lowered = [h.strip().lower() for h in header]
    area_col = next((lowered.index(a) for a in _IOD_AREA if a in lowered), None)
    if area_col is None:
        raise OperationError(f"The IoD file has no LSOA code column (looked for: {', '.join(_IOD_AREA)}).", "file")
    columns: dict[str, dict[str, int]] = {}
    ignored = []
    for i, h in enumerate(header):
        m = _IOD_COLUMN.match(h)
        if m:
            columns.setdefault(m.group("name").strip(), {})[m.group("what").lower()] = i
        elif i != area_col and h:
            ignored.append(h)
    period = options.period or "2019"
    indicators = {}
    for name in columns:
        label = name if name.startswith("Index of") else f"{name} domain"
        indicators[label] = IndicatorSpec(
            label,
            unit="rank",
            polarity=Polarity.HIGHER_IS_BETTER,  # rank 1 / decile 1 is the most deprived
            value_kind=ValueKind.RANK,
            description=IOD_DESCRIPTIONS.get(name, f"The {name} domain of the Index of Multiple Deprivation."),
        )
    values = []
    labels = list(indicators)
    for rownum, row in enumerate(table.rows[start + 1 :], start=start + 2):
        if not any(row):
            continue
        code = row[area_col] if area_col < len(row) else ""
        for label, (_name, cols) in zip(labels, columns.items(), strict=True):
            rank = row[cols["rank"]] if "rank" in cols and cols["rank"] < len(row) else ""
            decile = row[cols["decile"]] if "decile" in cols and cols["decile"] < len(row) else ""
            column = header[cols.get("rank", cols.get("decile"))]
            values.append(RawValue(rownum, column, label, code, period, "", rank, decile))
    return Reading(
        "iod",
        values,
        indicators,
        area_column=header[area_col],
        ignored_columns=ignored,
        defaults={
            "dataset_title": "English Indices of Deprivation 2019",
            "publisher": "Ministry of Housing, Communities and Local Government",
            "licence": "Open Government Licence v3.0",
            "source_url": "https://www.gov.uk/government/statistics/english-indices-of-deprivation-2019",
            "release_date": "2019-09-26",
            "methodology_note": "Ranks run from 1 (most deprived) to 32,844 (least deprived) among England's LSOAs; "
            "deciles from 1 (most deprived 10%) to 10.",
        },
    )


def _column(header: list[str], wanted: str | None, defaults: tuple[str, ...], what: str) -> int | None:
    normed = [_norm(h) for h in header]
    if wanted:
        key = _norm(wanted)
        if key not in normed:
            found = ", ".join(repr(h) for h in header if h)
            raise OperationError(f"No {what} column named {wanted!r}; columns found: {found}.", what.replace(" ", "_"))
        return normed.index(key)
    for d in defaults:
        if d in normed:
            return normed.index(d)
    return None


def _filters(header: list[str], options: Options) -> list[tuple[int, str]]:
    out = []
    for name, wanted in options.filters:
        index = _column(header, name, (), "filter")
        out.append((index, wanted.strip().lower()))
    return out


def read_tidy(table: Table, options: Options) -> Reading:
    start = _first_nonempty_row(table)
    header = table.rows[start]
    area = _column(header, options.area_column, TIDY_DEFAULTS["area"], "area")
    period = _column(header, options.period_column, ("period",), "period")
    value = _column(header, options.value_column, ("value",), "value")
    indicator = _column(header, options.indicator_column, ("indicator",), "indicator")
    unit = _column(header, options.unit_column, ("unit",), "unit")
    rank = _column(header, None, ("rank",), "rank")
    decile = _column(header, None, ("decile",), "decile")
    if options.indicator and options.indicator_column is None:
        indicator = None  # one named indicator for the whole file
    missing = [n for n, i in (("area_code", area), ("period", period), ("value", value)) if i is None]
    if indicator is None and not options.indicator:
        missing.append("indicator (or --indicator NAME)")
    if missing:
        found = ", ".join(repr(h) for h in header if h)
        raise OperationError(f"The tidy file lacks columns: {', '.join(missing)}. Columns found: {found}.", "file")
    filters = _filters(header, options)
    used = {i for i in (area, period, value, indicator, unit, rank, decile) if i is not None} | {i for i, _ in filters}
    reading = Reading(
        "tidy",
        [],
        {},
        area_column=header[area],
        ignored_columns=[h for i, h in enumerate(header) if i not in used and h],
    )

    def cell(row: list[str], i: int | None) -> str:
        return row[i] if i is not None and i < len(row) else ""

    for rownum, row in enumerate(table.rows[start + 1 :], start=start + 2):
        if not any(row):
            continue
        if any(cell(row, i).lower() != wanted for i, wanted in filters):
            reading.ignored_lines += 1
            continue
        name = options.indicator if indicator is None else cell(row, indicator)
        if not name:
            reading.skipped.append((rownum, header[indicator], "no indicator name"))
            continue
        row_unit = cell(row, unit) or options.unit or ""
        if name not in reading.indicators:
            reading.indicators[name] = IndicatorSpec(name, unit=row_unit)
        reading.values.append(
            RawValue(
                rownum,
                header[value],
                name,
                cell(row, area),
                options.period or cell(row, period),
                cell(row, value),
                cell(row, rank),
                cell(row, decile),
                row_unit,
            )
        )
    return reading


_AREA_HEADERS = (
    "area_code",
    "code",
    "la_code",
    "lacode",
    "new_la_code",
    "local_authority_code",
    "lad_code",
    "ons_code",
    "geography_code",
    "lsoa11cd",
    "lsoa_code",
    "ward_code",
)
_NAME_HEADERS = ("area_name", "area", "name", "laname", "la_name", "local_authority", "geography", "ward", "lsoa")


def read_wide(table: Table, options: Options) -> Reading:
    start = find_wide_header(table, options.year_type)
    if start is None:
        raise OperationError("No header row with period columns (such as 2019, 2019/20 or 2015-08) was found.", "file")
    header = table.rows[start]
    title = next((" ".join(c for c in row if c) for row in table.rows[:start] if any(row)), "")
    period_cols = {i: h for i, h in enumerate(header) if h and periods.candidates(h, options.year_type)}
    body = [(n, row) for n, row in enumerate(table.rows[start + 1 :], start=start + 2)]

    area = _column(header, options.area_column, _AREA_HEADERS, "area")
    if area is None:  # a column whose cells are mostly ONS codes, else the first name-like column
        for i in range(len(header)):
            if i in period_cols:
                continue
            cells = [row[i] for _, row in body if i < len(row) and row[i]]
            if cells and sum(bool(ONS_CODE.match(c)) for c in cells) >= 0.8 * len(cells):
                area = i
                break
    if area is None:
        area = _column(header, None, _NAME_HEADERS, "area")
    if area is None:
        area = next((i for i, h in enumerate(header) if h and i not in period_cols), None)
    if area is None:
        raise OperationError("The wide table has no area column (code or name); name it with --area-column.", "file")
    name = options.indicator or title or Path(table.name).stem.replace("_", " ")
    reading = Reading(
        "wide",
        [],
        {name: IndicatorSpec(name, unit=options.unit or "")},
        area_column=header[area],
        ignored_columns=[h for i, h in enumerate(header) if h and i not in period_cols and i != area],
    )
    for rownum, row in body:
        cells = {i: (row[i] if i < len(row) else "") for i in period_cols}
        area_text = row[area] if area < len(row) else ""
        if not any(cells.values()):
            reading.ignored_lines += 1  # blank line, footnote or source line
            continue
        if not area_text:
            reading.skipped.append((rownum, header[area], "no area code or name"))
            continue
        for i, h in period_cols.items():
            if cells[i] == "":
                continue
            reading.values.append(RawValue(rownum, h, name, area_text, h, cells[i], unit=options.unit or ""))
    return reading


READERS: dict[str, Callable[[Table, Options], Reading]] = {"iod": read_iod, "tidy": read_tidy, "wide": read_wide}
