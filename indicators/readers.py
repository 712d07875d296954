"""Readers: turn a file (CSV or XLSX) of one of the known layouts into raw values, without judging them.

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
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from indicators import periods
from indicators.models import Polarity, ValueKind
from webapp.operations import OperationError

ONS_CODE = re.compile(r"^[EWSNK]\d{8}$")
MAX_HEADER_SEARCH = 30  # title lines above a table's header
_NUMBERISH = re.compile(r"^[-+(]?£?\d[\d,]*(\.\d+)?%?\)?$|^[-+]?\.\d+$")

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


# The header row -------------------------------------------------------------------------------------------------


def is_code_or_number(cell: str) -> bool:
    """An ONS area code or a number: what data rows hold and column names never are (years aside)."""
    text = cell.strip()
    return bool(ONS_CODE.match(text.upper()) or _NUMBERISH.match(text.replace(" ", "")))


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


def _norm(header: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", header.strip().lower()).strip("_")


IOD_DOMAINS = {  # key → official name (File 7 wording) and the words of other spellings
    "imd": ("Index of Multiple Deprivation (IMD)", ("index of multiple deprivation", "imd")),
    "income": ("Income", ("income",)),
    "employment": ("Employment", ("employment",)),
    "education": ("Education, Skills and Training", ("education, skills and training", "education")),
    "health": ("Health Deprivation and Disability", ("health deprivation and disability", "health")),
    "crime": ("Crime", ("crime",)),
    "barriers": ("Barriers to Housing and Services", ("barriers to housing and services", "housing and services")),
    "environment": ("Living Environment", ("living environment", "environment")),
    "idaci": ("Income Deprivation Affecting Children Index (IDACI)", ("income deprivation affecting children",)),
    "idaopi": ("Income Deprivation Affecting Older People Index (IDAOPI)", ("income deprivation affecting older",)),
}
IOD_RELEASES = {  # from the vintage of the local authority column (official files) or of the LSOAs
    "2019": {
        "dataset_title": "English Indices of Deprivation 2019",
        "publisher": MHCLG,
        "licence": OGL,
        "source_url": "https://www.gov.uk/government/statistics/english-indices-of-deprivation-2019",
        "release_date": "2019-09-26",
        "period": "2019",
        "ranked": "32844",
        "lsoa": "2011",
    },
    "2025": {
        "dataset_title": "English Indices of Deprivation 2025",
        "publisher": MHCLG,
        "licence": OGL,
        "source_url": "https://www.gov.uk/government/statistics/english-indices-of-deprivation-2025",
        "release_date": "2025-10-30",
        "period": "2025",
        "ranked": "33755",
        "lsoa": "2021",
    },
}
_IOD_OFFICIAL = re.compile(
    r"^(?P<name>.+?)\s+(?P<what>score|rank|decile)\b(?:\s*\((?:where 1 is most deprived|rate)[^)]*\))?",
    re.IGNORECASE,
)
_IOD_SNAKE = re.compile(
    r"^(?P<name>imd|income|employment|education|health|crime|housing_and_services|environment|idaci|idaopi)"
    r"_(?P<what>score|rank|decile)$",
    re.IGNORECASE,
)
_LSOA_CODE_HEADER = re.compile(r"^(?:lsoa code \((?P<y1>\d{4})\)|lsoa(?P<y2>\d\d)_?c(?:o)?d(?:e)?)$", re.IGNORECASE)
_LAD_HEADER = re.compile(r"^local authority district code \((?P<y>\d{4})\)$", re.IGNORECASE)


_IOD_WORDS = sorted(
    ((w, key) for key, (_official, words) in IOD_DOMAINS.items() for w in words), key=lambda item: -len(item[0])
)  # longest first: "income deprivation affecting children" before "income"


def _iod_key(name: str) -> str:
    lowered = name.strip().lower().replace(" domain", "")
    for words, key in _IOD_WORDS:
        if lowered == words or lowered.startswith((words + " ", words + " (")):
            return key
    return re.sub(r"[^a-z0-9]+", "-", lowered).strip("-")


def _iod_columns(header: list[str]) -> tuple[int | None, int | None, dict[str, dict[str, int]], dict[str, str]]:
    """(LSOA code column, its vintage year, {key: {"score"|"rank"|"decile": column}}, {key: name as written})."""
    area = year = None
    for i, h in enumerate(header):
        if m := _LSOA_CODE_HEADER.match(h.strip()):
            area = i
            year = int(m.group("y1")) if m.group("y1") else 2000 + int(m.group("y2"))
            break
    domains: dict[str, dict[str, int]] = {}
    names: dict[str, str] = {}
    for i, h in enumerate(header):
        text = h.strip()
        if i == area:
            continue
        if m := _IOD_SNAKE.match(text):
            written = m.group("name").replace("_", " ")
        elif (m := _IOD_OFFICIAL.match(text)) and ("deprived" in text.lower() or m.group("what").lower() == "score"):
            written = m.group("name")
        else:
            continue
        key = _iod_key(written)
        domains.setdefault(key, {})[m.group("what").lower()] = i
        names.setdefault(key, written)
    return area, year, domains, names


def looks_like_iod(header: list[str]) -> bool:
    area, _year, domains, _names = _iod_columns(header)
    return area is not None and "imd" in domains and len(domains) >= 2


FINGERTIPS_COLUMNS = ("indicator_id", "indicator_name", "area_code", "time_period", "value")
NOMIS_COLUMNS = ("geography_code", "obs_value")
CENSUS_COLUMNS = ("date", "geography", "geography_code")
TIDY_DEFAULTS = {"area": ("area_code", "area_name"), "period": ("period",), "indicator": ("indicator",)}


def looks_like_tidy(header: list[str], options: Options) -> bool:
    normed = {_norm(h) for h in header}
    area = options.area_column or next((c for c in TIDY_DEFAULTS["area"] if c in normed), None)
    period = options.period_column or ("period" if "period" in normed else None)
    value = options.value_column or ("value" if "value" in normed else None)
    indicator_ok = bool(options.indicator) or bool(options.indicator_column) or "indicator" in normed
    return bool(area and period and value and indicator_ok)


def _period_columns(header: list[str], year_type: periods.PeriodKind) -> dict[int, str]:
    return {i: h for i, h in enumerate(header) if h and periods.candidates(h, year_type)}


FORMATS = {
    "iod": "English Indices of Deprivation 2019 or 2025: an LSOA code column and '<domain> Score/Rank/Decile' "
    "columns (gov.uk files, or lsoa21_code, IMD_score, Income_rank ...)",
    "fingertips": "OHID Fingertips export: Indicator ID, Indicator Name, ..., Area Code, ..., Time period, Value, "
    "Lower CI 95.0 limit, Upper CI 95.0 limit, ...",
    "nomis": "Nomis download: DATE_NAME, GEOGRAPHY_CODE, ..., MEASURES_NAME, OBS_VALUE, OBS_STATUS",
    "census": "Census bulk table (Nomis bulk CSV): date, geography, geography code, one column per category",
    "tidy": "tidy long: area_code (or area_name), period, indicator, value[, unit] — one value per row",
    "wide": "wide time series: an area code or name column and one column per period (2019, 2019/20, 201920, "
    "2015-08, August 2015, 2019 Q1 ...)",
    "measures": "one row per area, one column per measure: an area code column and numeric columns, each an "
    "indicator named from its header",
}


def detect(table: Table, header_index: int, options: Options) -> str:
    header = table.rows[header_index]
    normed = {_norm(h) for h in header}
    if looks_like_iod(header):
        return "iod"
    if set(FINGERTIPS_COLUMNS) <= normed:
        return "fingertips"
    if set(NOMIS_COLUMNS) <= normed and normed & {"date_name", "date"}:
        return "nomis"
    if [_norm(h) for h in header[:3]] == list(CENSUS_COLUMNS) and len(header) > 3:
        return "census"
    if looks_like_tidy(header, options):
        return "tidy"
    if _period_columns(header, options.year_type):
        return "wide"
    if _area_column(table, header_index, options) is not None and _numeric_columns(table, header_index, options):
        return "measures"
    found = ", ".join(repr(h) for h in header if h) or "none"
    formats = "; ".join(f"{name} ({text})" for name, text in FORMATS.items())
    raise OperationError(
        f"The layout of {table.name} is not one commintel reads. Formats: {formats}. Columns found: {found} "
        f"(header row {header_index + 1}). Name the format with --format and the columns with --area-column, "
        "--period-column, --value-column; nothing was imported.",
        "format",
    )


# Helpers ------------------------------------------------------------------------------------------------------------


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


def _cell(row: list[str], i: int | None) -> str:
    return row[i] if i is not None and i < len(row) else ""


def _body(table: Table, header_index: int) -> list[tuple[int, list[str]]]:
    return list(enumerate(table.rows[header_index + 1 :], start=header_index + 2))


def _reading(fmt: str, table: Table, header_index: int, **kw) -> Reading:
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


# IoD ----------------------------------------------------------------------------------------------------------------


def read_iod(table: Table, header_index: int, options: Options) -> Reading:
    header = table.rows[header_index]
    area_col, lsoa_year, domains, written = _iod_columns(header)
    if area_col is None:
        raise OperationError("The IoD file has no LSOA code column ('LSOA code (2011)', 'lsoa21_code' ...).", "file")
    lad_year = next((m.group("y") for h in header if (m := _LAD_HEADER.match(h.strip()))), None)
    # The release: IoD2019 and IoD2015 both used 2011 LSOAs; the official files name their local authority
    # vintage (2019 for IoD2019, 2024 for IoD2025). A copy without it is IoD2025 only when on 2021 LSOAs.
    release = {"2019": "2019", "2024": "2025"}.get(lad_year or "") or ("2025" if lsoa_year == 2021 else None)
    defaults = dict(IOD_RELEASES[release]) if release else {}
    if release and IOD_RELEASES[release]["lsoa"] != str(lsoa_year):
        release, defaults = None, {}
    if not release and not (options.dataset_title and options.release_date):
        raise OperationError(
            f"These are Indices of Deprivation on {lsoa_year} LSOAs, but the headers do not say which release "
            "(IoD2015 and IoD2019 both used 2011 LSOAs). Name it with --dataset-title and --release-date.",
            "dataset_title",
        )
    ranked = int(defaults["ranked"]) if defaults else None
    reading = _reading(
        "iod",
        table,
        header_index,
        area_column=header[area_col],
        vintage_hint=lsoa_year,
        defaults={
            k: v
            for k, v in defaults.items()
            if k in ("dataset_title", "publisher", "licence", "source_url", "release_date")
        }
        | {"key": "iod"},
        layout=f"{defaults.get('dataset_title', 'Indices of Deprivation')}: one row per LSOA ({lsoa_year}), "
        "the score, rank and decile of each index as published",
    )
    reading.defaults["methodology_note"] = (
        f"Ranks run from 1 (most deprived) to {ranked:,} (least deprived) among England's LSOAs; deciles from 1 "
        "(most deprived 10%) to 10. Scores: higher is more deprived. Relative measures: a change of rank between "
        "releases is a change of position among areas, not of absolute deprivation."
        if ranked
        else "Ranks run from 1 (most deprived); deciles from 1 (most deprived 10%) to 10."
    )
    used = {area_col}
    order = list(IOD_DOMAINS)
    for key in sorted(domains, key=lambda k: (order.index(k) if k in order else len(order), k)):
        cols = domains[key]
        used |= set(cols.values())
        official = IOD_DOMAINS[key][0] if key in IOD_DOMAINS else written[key]
        name = official if key in ("imd", "idaci", "idaopi") or key not in IOD_DOMAINS else f"{official} domain"
        has_rank = "rank" in cols or "decile" in cols
        reading.indicators[name] = IndicatorSpec(
            name,
            unit="rank" if has_rank else "score",
            # Rank 1 and decile 1 are the most deprived: a higher rank is better. A higher score is worse.
            polarity=Polarity.HIGHER_IS_BETTER if has_rank else Polarity.HIGHER_IS_WORSE,
            value_kind=ValueKind.RANK if has_rank else ValueKind.SCORE,
            description=(
                "The overall Index of Multiple Deprivation, combining the seven domains."
                if key == "imd"
                else f"The {official} domain of the Index of Multiple Deprivation."
                if key in IOD_DOMAINS
                else ""
            ),
            key=key,
            ranked_areas=ranked if has_rank else None,
            columns=[header[c] for c in cols.values()],
        )
    reading.ignored_columns = [h for i, h in enumerate(header) if h and i not in used]
    period = options.period or defaults.get("period") or str(options.release_date.year if options.release_date else "")
    specs = [(name, domains[spec.key]) for name, spec in reading.indicators.items()]
    for rownum, row in _body(table, header_index):
        if not any(row):
            continue
        reading.data_rows += 1
        code = _cell(row, area_col)
        for name, cols in specs:
            first = header[cols.get("rank", cols.get("decile", cols.get("score")))]
            reading.values.append(
                RawValue(
                    rownum,
                    first,
                    name,
                    code,
                    period,
                    _cell(row, cols.get("score")),
                    _cell(row, cols.get("rank")),
                    _cell(row, cols.get("decile")),
                )
            )
    if ranked:
        for v in reading.values:
            rank = _whole(v.rank)
            if rank is not None and rank > ranked:
                raise OperationError(
                    f"Row {v.row}, column {v.column!r}: rank {v.rank} is above the {ranked:,} LSOAs that "
                    f"{defaults['dataset_title']} ranks: this is not that release.",
                    "file",
                )
    reading.notes.append(
        f"Release recognised from the headers: {defaults['dataset_title']}."
        if defaults
        else "Release named by --dataset-title and --release-date."
    )
    return reading


def _whole(text: str) -> int | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


# Fingertips ---------------------------------------------------------------------------------------------------------

_FT_ABOVE = ("E92000001",)


def read_fingertips(table: Table, header_index: int, options: Options) -> Reading:
    header = table.rows[header_index]
    col = {
        name: _column(header, None, (name,), name)
        for name in (
            "indicator_id",
            "indicator_name",
            "area_code",
            "area_type",
            "sex",
            "age",
            "category_type",
            "category",
            "time_period",
            "value",
            "lower_ci_95_0_limit",
            "upper_ci_95_0_limit",
            "value_note",
            "compared_to_england_value_or_percentiles",
        )
    }
    reading = _reading(
        "fingertips",
        table,
        header_index,
        area_column=header[col["area_code"]],
        layout="OHID Fingertips export: one value per indicator, area, sex, age and period",
        defaults={
            "publisher": "Office for Health Improvement and Disparities (Fingertips)",
            "licence": OGL,
            "source_url": "https://fingertips.phe.org.uk/",
        },
    )
    used = {c for c in col.values() if c is not None}
    rows = []
    breakdowns = 0
    for rownum, row in _body(table, header_index):
        if not any(row):
            continue
        reading.data_rows += 1
        if _cell(row, col["category_type"]):
            breakdowns += 1  # a breakdown (by deprivation decile, ethnicity ...): not an area's overall value
            reading.ignored_lines += 1
            continue
        rows.append((rownum, row))
    if breakdowns:
        reading.notes.append(f"{breakdowns:,} rows of breakdowns by category (Category Type set) left out.")
    combos: dict[str, set[tuple[str, str]]] = {}
    for _n, row in rows:
        combos.setdefault(_cell(row, col["indicator_id"]), set()).add((_cell(row, col["sex"]), _cell(row, col["age"])))
    england: dict[tuple[str, str], float] = {}
    id_of: dict[str, str] = {}
    judged: dict[str, list[tuple[float, str, tuple[str, str]]]] = {}
    for rownum, row in rows:
        ind_id = _cell(row, col["indicator_id"])
        sex, age = _cell(row, col["sex"]), _cell(row, col["age"])
        base = _cell(row, col["indicator_name"]) or f"Fingertips indicator {ind_id}"
        name = f"{base} ({sex}, {age})" if len(combos[ind_id]) > 1 else base
        id_of[name] = ind_id
        if name not in reading.indicators:
            reading.indicators[name] = IndicatorSpec(
                name,
                unit=options.unit or _unit_from_name(base) or "",
                polarity=options.polarity,
                key=f"fingertips-{ind_id}" + (f"-{_norm(sex)}-{_norm(age)}" if len(combos[ind_id]) > 1 else ""),
                columns=[header[col["value"]]],
            )
        value, period, area = _cell(row, col["value"]), _cell(row, col["time_period"]), _cell(row, col["area_code"])
        note = _cell(row, col["value_note"])
        reading.values.append(
            RawValue(
                rownum,
                header[col["value"]],
                name,
                area,
                options.period or period,
                value if value else ("[x]" if note else ""),
                unit=reading.indicators[name].unit,
                lower=_cell(row, col["lower_ci_95_0_limit"]),
                upper=_cell(row, col["upper_ci_95_0_limit"]),
                note=note,
            )
        )
        try:
            number = float(value)
        except ValueError:
            continue
        if area in _FT_ABOVE:
            england[(name, period)] = number
        comparison = _cell(row, col["compared_to_england_value_or_percentiles"]).lower()
        if comparison.startswith(("better", "worse")):
            judged.setdefault(name, []).append((number, comparison, (name, period)))
    # Polarity from the file itself: Fingertips marks each area better or worse than England. The direction is the
    # indicator's (its ID), whatever the sex or age: one variant's comparisons decide for all of them.
    votes: dict[str, set[Polarity]] = defaultdict(set)
    for name, judgements in judged.items():
        for number, comparison, key in judgements:
            if key in england and number != england[key]:
                higher = number > england[key]
                worse = comparison.startswith("worse")
                votes[id_of[name]].add(Polarity.HIGHER_IS_WORSE if higher == worse else Polarity.HIGHER_IS_BETTER)
    for name, spec in reading.indicators.items():
        found = votes.get(id_of[name], set())
        if spec.polarity is None and len(found) == 1:
            spec.polarity = next(iter(found))
            reading.notes.append(
                f"{name}: direction read from the file's comparisons with England ({spec.polarity.label.lower()})."
            )
    reading.ignored_columns = [h for i, h in enumerate(header) if h and i not in used]
    return reading


def _unit_from_name(name: str) -> str | None:
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


# Nomis --------------------------------------------------------------------------------------------------------------

_NOMIS_META = {
    "date_name",
    "geography_name",
    "geography_type",
    "obs_status_name",
    "obs_conf_name",
    "measures_name",
    "date_type",
}


def read_nomis(table: Table, header_index: int, options: Options) -> Reading:
    header = table.rows[header_index]
    normed = [_norm(h) for h in header]
    geo = normed.index("geography_code")
    value = normed.index("obs_value")
    date_col = normed.index("date_name") if "date_name" in normed else normed.index("date")
    measures = normed.index("measures_name") if "measures_name" in normed else None
    status = normed.index("obs_status") if "obs_status" in normed else None
    geo_type = normed.index("geography_type") if "geography_type" in normed else None
    dims = [i for i, n in enumerate(normed) if n.endswith("_name") and n not in _NOMIS_META]
    body = [(n, row) for n, row in _body(table, header_index) if any(row)]
    varying = [i for i in dims if len({_cell(row, i) for _, row in body}) > 1]
    measure_values = {_cell(row, measures) for _, row in body} if measures is not None else set()
    title = options.dataset_title or Path(table.name).stem.replace("_", " ")
    reading = _reading(
        "nomis",
        table,
        header_index,
        area_column=header[geo],
        layout="Nomis download: one value per area, date and category (OBS_VALUE)",
        defaults={
            "publisher": "Office for National Statistics (Nomis)",
            "licence": OGL,
            "source_url": "https://www.nomisweb.co.uk/",
        },
    )
    years = {m.group(0) for _, row in body[:50] if (m := re.search(r"(19|20)\d\d", _cell(row, geo_type)))}
    if len(years) == 1:
        reading.vintage_hint = int(years.pop())
    constant = [i for i in dims if i not in varying and normed[i] not in ("gender_name", "age_name", "sex_name")]
    for rownum, row in body:
        reading.data_rows += 1
        parts = [_cell(row, i) for i in varying]
        measure = _cell(row, measures)
        if len(measure_values) > 1 or (measure and measure.lower() not in ("value", "")):
            parts.append(measure)
        # Named from what varies between rows; else from the dataset's own measure (MEASURE_NAME "Claimant
        # count"); else from the title or file name.
        named = [p for p in parts if p] or [c for i in constant if (c := _cell(row, i))][:1]
        name = options.indicator or (" — ".join(named) if named else title)
        if name not in reading.indicators:
            described = " ".join([*(_cell(row, i) for i in dims), measure])
            unit = options.unit or ("%" if measure.lower().startswith("percent") else _unit_from_name(described) or "")
            reading.indicators[name] = IndicatorSpec(
                name, unit=unit, polarity=options.polarity, columns=[header[value]]
            )
        cell = _cell(row, value)
        obs_status = _cell(row, status)
        reading.values.append(
            RawValue(
                rownum,
                header[value],
                name,
                _cell(row, geo),
                options.period or _cell(row, date_col),
                cell if cell else ("[x]" if obs_status else ""),
                unit=reading.indicators[name].unit,
                note="" if obs_status in ("", "A") else obs_status,
            )
        )
    used = {geo, value, date_col, *(i for i in (measures, status) if i is not None), *dims}
    reading.ignored_columns = [
        h
        for i, h in enumerate(header)
        if h and i not in used and not normed[i].endswith(("_code", "_type", "_typecode", "_sortorder"))
    ]
    return reading


# Census bulk (Nomis bulk CSV) --------------------------------------------------------------------------------------


def _census_name(column: str) -> tuple[str, str]:
    """'Sex: All persons; measures: Value' → ('Sex: All persons', 'count')."""
    name, _sep, measure = column.partition("; measures:")
    unit = "%" if "percent" in measure.lower() else "count"
    return name.strip(), unit


def read_census(table: Table, header_index: int, options: Options) -> Reading:
    header = table.rows[header_index]
    stem = Path(table.name).stem
    m = re.match(r"census(\d{4})-([a-z]{2}\d{3}[a-z]?)", stem, re.IGNORECASE)
    title = f"Census {m.group(1)}: {m.group(2).upper()}" if m else stem.replace("_", " ").replace("-", " ")
    reading = _reading(
        "census",
        table,
        header_index,
        area_column=header[2],
        layout="Census bulk table (Nomis bulk CSV): one row per area, one column per category (counts)",
        defaults={
            "dataset_title": title,
            "publisher": "Office for National Statistics",
            "licence": OGL,
            "source_url": "https://www.nomisweb.co.uk/sources/census_2021_bulk",
        },
    )
    body = [(n, row) for n, row in _body(table, header_index) if any(row)]
    dates = {_cell(row, 0) for _, row in body}
    if len(dates) == 1 and (year := next(iter(dates))).isdigit():
        reading.vintage_hint = int(year)
    for column in header[3:]:
        if not column:
            continue
        name, unit = _census_name(column)
        reading.indicators[name] = IndicatorSpec(
            name,
            unit=options.unit or unit,
            # A count of people or households in a category has no good or bad direction.
            polarity=options.polarity or Polarity.NEUTRAL,
            value_kind=ValueKind.COUNT if unit == "count" else ValueKind.RATE,
            key=_norm(name),
            columns=[column],
        )
    for rownum, row in body:
        reading.data_rows += 1
        for i, column in enumerate(header[3:], start=3):
            if column:
                name = _census_name(column)[0]
                reading.values.append(
                    RawValue(
                        rownum,
                        column,
                        name,
                        _cell(row, 2),
                        options.period or _cell(row, 0),
                        _cell(row, i),
                        unit=reading.indicators[name].unit,
                    )
                )
    reading.ignored_columns = [header[1]]
    reading.notes.append("Census counts are neither good nor bad: stored with no direction (polarity neutral).")
    return reading


# Tidy ---------------------------------------------------------------------------------------------------------------


def read_tidy(table: Table, header_index: int, options: Options) -> Reading:
    header = table.rows[header_index]
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
    reading = _reading(
        "tidy",
        table,
        header_index,
        area_column=header[area],
        ignored_columns=[h for i, h in enumerate(header) if i not in used and h],
        layout="tidy long: one value per row",
    )
    for rownum, row in _body(table, header_index):
        if not any(row):
            continue
        reading.data_rows += 1
        if any(_cell(row, i).lower() != wanted for i, wanted in filters):
            reading.ignored_lines += 1
            continue
        name = options.indicator if indicator is None else _cell(row, indicator)
        if not name:
            reading.skipped.append((rownum, header[indicator], "no indicator name"))
            continue
        row_unit = _cell(row, unit) or options.unit or ""
        if name not in reading.indicators:
            reading.indicators[name] = IndicatorSpec(name, unit=row_unit, columns=[header[value]])
        reading.values.append(
            RawValue(
                rownum,
                header[value],
                name,
                _cell(row, area),
                options.period or _cell(row, period),
                _cell(row, value),
                _cell(row, rank),
                _cell(row, decile),
                row_unit,
            )
        )
    return reading


# Wide -------------------------------------------------------------------------------------------------------------

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
    "lsoa21cd",
    "lsoa_code",
    "lsoa11_code",
    "lsoa21_code",
    "ward_code",
)
_NAME_HEADERS = ("area_name", "area", "name", "laname", "la_name", "local_authority", "geography", "ward", "lsoa")


def _area_column(table: Table, header_index: int, options: Options, skip: set[int] | None = None) -> int | None:
    """The column of area codes (named so, or mostly ONS codes), else a column named like area names."""
    header = table.rows[header_index]
    skip = skip or set()
    area = _column(header, options.area_column, _AREA_HEADERS, "area")
    if area is not None:
        return area
    body = [row for _n, row in _body(table, header_index)[:500]]
    for i in range(len(header)):
        if i in skip:
            continue
        cells = [row[i] for row in body if i < len(row) and row[i]]
        if cells and sum(bool(ONS_CODE.match(c.upper())) for c in cells) >= 0.8 * len(cells):
            return i
    return _column(header, None, _NAME_HEADERS, "area")


def read_wide(table: Table, header_index: int, options: Options) -> Reading:
    header = table.rows[header_index]
    first = next((row for row in table.rows[:header_index] if any(row)), [])
    cells = [c for c in first if c]
    # "Dataset:","Households on Universal Credit" (Stat-Xplore): the label is not part of the title.
    title = " ".join(cells[1:] if len(cells) > 1 and cells[0].endswith(":") else cells)
    period_cols = _period_columns(header, options.year_type)
    if not period_cols:
        raise OperationError("The header has no period columns (such as 2019, 2019/20 or 2015-08).", "file")
    area = _area_column(table, header_index, options, set(period_cols))
    if area is None:
        area = next((i for i, h in enumerate(header) if h and i not in period_cols), None)
    if area is None:
        raise OperationError("The wide table has no area column (code or name); name it with --area-column.", "file")
    name = options.indicator or title or Path(table.name).stem.replace("_", " ")
    reading = _reading(
        "wide",
        table,
        header_index,
        area_column=header[area],
        ignored_columns=[h for i, h in enumerate(header) if h and i not in period_cols and i != area],
        layout="wide time series: one row per area, one column per period",
    )
    reading.indicators[name] = IndicatorSpec(name, unit=options.unit or "", columns=list(period_cols.values()))
    if title and not options.indicator:
        reading.notes.append(f"Indicator named from the title line above the header: {title!r}.")
    for rownum, row in _body(table, header_index):
        cells = {i: _cell(row, i) for i in period_cols}
        area_text = _cell(row, area)
        if not any(cells.values()):
            reading.ignored_lines += 1  # blank line, footnote or source line
            continue
        reading.data_rows += 1
        if not area_text:
            reading.skipped.append((rownum, header[area], "no area code or name"))
            continue
        for i, h in period_cols.items():
            if cells[i] == "":
                continue
            reading.values.append(RawValue(rownum, h, name, area_text, h, cells[i], unit=options.unit or ""))
    return reading


# Measures: one row per area, one column per measure ------------------------------------------------------------------

_PERIOD_HEADERS = ("period", "date", "year", "time_period")
_SUFFIX = re.compile(r"^(?P<stem>.+?)[\s_\-]+(?P<what>score|rank|decile)$", re.IGNORECASE)
_DEPRIVATION = re.compile(r"depriv|\bimd\b|^imd|idaci|idaopi", re.IGNORECASE)


def _numeric_columns(table: Table, header_index: int, options: Options) -> list[int]:
    """Columns (other than the area and period columns) whose filled cells are mostly numbers or markers."""
    header = table.rows[header_index]
    area = _area_column(table, header_index, options)
    period = _column(header, options.period_column, _PERIOD_HEADERS, "period")
    body = [row for _n, row in _body(table, header_index)[:500] if any(row)]
    out = []
    for i, h in enumerate(header):
        if not h or i in (area, period):
            continue
        cells = [row[i] for row in body if i < len(row) and row[i]]
        numeric = sum(
            bool(_NUMBERISH.match(c.replace(" ", "")))
            or c.lower() in ("..", ".", "c", "x", "*", "-", ":", "[c]", "[x]")
            for c in cells
        )
        if cells and numeric >= 0.9 * len(cells):
            out.append(i)
    return out


def _measure_option(options: Options, column: str) -> tuple[str | None, Polarity | None]:
    for name, text in options.measures:
        if _norm(name) == _norm(column):
            unit, _sep, polarity = text.rpartition(",")  # a unit may hold commas: "per 1,000 households"
            if polarity.strip() not in {p.value for p in Polarity}:
                if _sep and polarity.strip() and not polarity.strip()[0].isdigit():
                    raise OperationError(
                        f"--measure {name}={text}: the direction must be worse, better or neutral.", "measure"
                    )
                unit, polarity = text, ""
            return unit.strip() or None, Polarity(polarity.strip()) if polarity.strip() else None
    return None, None


def read_measures(table: Table, header_index: int, options: Options) -> Reading:
    header = table.rows[header_index]
    area = _area_column(table, header_index, options)
    if area is None:
        raise OperationError("No area code column was found; name it with --area-column.", "area_column")
    period_col = _column(header, options.period_column, _PERIOD_HEADERS, "period")
    numeric = _numeric_columns(table, header_index, options)
    if not numeric:
        raise OperationError("No column of numbers was found beside the area column.", "file")
    if period_col is None and not options.period:
        raise OperationError(
            "This is one row per area and one column per measure, with no period column: say which period the "
            "values are for with --period (e.g. --period 2024 or --period 2023/24).",
            "period",
        )
    known = {_norm(name) for name, _ in options.measures}
    unknown = known - {_norm(header[i]) for i in numeric}
    if unknown:
        raise OperationError(f"--measure names no numeric column: {', '.join(sorted(unknown))}.", "measure")
    # Group X score / X rank / X decile into one measure X.
    groups: dict[str, dict[str, int]] = {}
    for i in numeric:
        m = _SUFFIX.match(header[i].strip())
        stem, what = (m.group("stem").strip(" _-"), m.group("what").lower()) if m else (header[i].strip(), "value")
        groups.setdefault(stem, {})[what] = i
    reading = _reading(
        "measures",
        table,
        header_index,
        area_column=header[area],
        layout="one row per area, one column per measure",
    )
    problems = []
    for stem, cols in groups.items():
        name = stem.replace("_", " ").strip()
        deprivation = bool(_DEPRIVATION.search(stem))
        given_unit, given_polarity = (None, None)
        for i in cols.values():
            u, p = _measure_option(options, header[i])
            given_unit, given_polarity = given_unit or u, given_polarity or p
        ranked = "rank" in cols or "decile" in cols
        if ranked:
            unit, kind = "rank", ValueKind.RANK
            polarity = given_polarity or options.polarity or (Polarity.HIGHER_IS_BETTER if deprivation else None)
        elif "score" in cols:
            unit, kind = given_unit or "score", ValueKind.SCORE
            polarity = given_polarity or options.polarity or (Polarity.HIGHER_IS_WORSE if deprivation else None)
        else:
            unit = given_unit or options.unit or _unit_from_name(stem)
            kind = None
            polarity = given_polarity or options.polarity
        missing = [w for w, v in (("unit", unit), ("direction", polarity)) if v is None]
        if missing:
            problems.append(f"{', '.join(header[i] for i in cols.values())} ({' and '.join(missing)})")
        reading.indicators[name] = IndicatorSpec(
            name,
            unit=unit or "",
            polarity=polarity,
            value_kind=kind,
            key=_norm(stem),
            columns=[header[i] for i in cols.values()],
        )
    if problems:
        raise OperationError(
            "commintel cannot tell what these measures are: "
            + "; ".join(problems)
            + '. Say it with --unit and --polarity (for every measure) or --measure "COLUMN=UNIT,DIRECTION" '
            '(e.g. --measure "Households on UC=count,worse"); DIRECTION is worse, better or neutral.',
            "measure",
        )
    reading.ignored_columns = [
        h for i, h in enumerate(header) if h and i != area and i != period_col and i not in numeric
    ]
    for rownum, row in _body(table, header_index):
        if not any(row):
            continue
        reading.data_rows += 1
        period = options.period or _cell(row, period_col)
        for stem, cols in groups.items():
            name = stem.replace("_", " ").strip()
            first = header[next(iter(cols.values()))]
            reading.values.append(
                RawValue(
                    rownum,
                    first,
                    name,
                    _cell(row, area),
                    period,
                    _cell(row, cols.get("value", cols.get("score"))),
                    _cell(row, cols.get("rank")),
                    _cell(row, cols.get("decile")),
                    unit=reading.indicators[name].unit,
                )
            )
    return reading


READERS: dict[str, Callable[[Table, int, Options], Reading]] = {
    "iod": read_iod,
    "fingertips": read_fingertips,
    "nomis": read_nomis,
    "census": read_census,
    "tidy": read_tidy,
    "wide": read_wide,
    "measures": read_measures,
}
