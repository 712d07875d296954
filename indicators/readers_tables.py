"""Readers of plain tables: tidy (one value per row), wide (one column per period) and measures (one column per
measure)."""

from __future__ import annotations

import re
from pathlib import Path

from indicators.models import Polarity, ValueKind
from indicators.readers import (
    NUMBERISH,
    ONS_CODE,
    IndicatorSpec,
    Options,
    RawValue,
    Reading,
    Table,
    body_rows,
    cell_at,
    column_index,
    new_reading,
    norm_name,
    period_columns,
    row_filters,
    unit_from_name,
)
from webapp.operations import OperationError

TIDY_DEFAULTS = {"area": ("area_code", "area_name"), "period": ("period",), "indicator": ("indicator",)}


def looks_like_tidy(header: list[str], options: Options) -> bool:
    normed = {norm_name(h) for h in header}
    area = options.area_column or next((c for c in TIDY_DEFAULTS["area"] if c in normed), None)
    period = options.period_column or ("period" if "period" in normed else None)
    value = options.value_column or ("value" if "value" in normed else None)
    indicator_ok = bool(options.indicator) or bool(options.indicator_column) or "indicator" in normed
    return bool(area and period and value and indicator_ok)


# Tidy ---------------------------------------------------------------------------------------------------------------


def read_tidy(table: Table, header_index: int, options: Options) -> Reading:
    header = table.rows[header_index]
    area = column_index(header, options.area_column, TIDY_DEFAULTS["area"], "area")
    period = column_index(header, options.period_column, ("period",), "period")
    value = column_index(header, options.value_column, ("value",), "value")
    indicator = column_index(header, options.indicator_column, ("indicator",), "indicator")
    unit = column_index(header, options.unit_column, ("unit",), "unit")
    rank = column_index(header, None, ("rank",), "rank")
    decile = column_index(header, None, ("decile",), "decile")
    if options.indicator and options.indicator_column is None:
        indicator = None  # one named indicator for the whole file
    missing = [n for n, i in (("area_code", area), ("period", period), ("value", value)) if i is None]
    if indicator is None and not options.indicator:
        missing.append("indicator (or --indicator NAME)")
    if missing or area is None or period is None or value is None:  # the same test, said so that types follow it
        found = ", ".join(repr(h) for h in header if h)
        raise OperationError(f"The tidy file lacks columns: {', '.join(missing)}. Columns found: {found}.", "file")
    filters = row_filters(header, options)
    used = {i for i in (area, period, value, indicator, unit, rank, decile) if i is not None} | {i for i, _ in filters}
    reading = new_reading(
        "tidy",
        table,
        header_index,
        area_column=header[area],
        ignored_columns=[h for i, h in enumerate(header) if i not in used and h],
        layout="tidy long: one value per row",
    )
    for rownum, row in body_rows(table, header_index):
        if not any(row):
            continue
        reading.data_rows += 1
        if any(cell_at(row, i).lower() != wanted for i, wanted in filters):
            reading.ignored_lines += 1
            continue
        name = options.indicator if indicator is None else cell_at(row, indicator)
        if not name:  # only from an indicator column (a name given with --indicator is never empty)
            reading.skipped.append((rownum, header[indicator] if indicator is not None else "", "no indicator name"))
            continue
        row_unit = cell_at(row, unit) or options.unit or ""
        if name not in reading.indicators:
            reading.indicators[name] = IndicatorSpec(name, unit=row_unit, columns=[header[value]])
        reading.values.append(
            RawValue(
                rownum,
                header[value],
                name,
                cell_at(row, area),
                options.period or cell_at(row, period),
                cell_at(row, value),
                cell_at(row, rank),
                cell_at(row, decile),
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


def area_column_index(table: Table, header_index: int, options: Options, skip: set[int] | None = None) -> int | None:
    """The column of area codes (named so, or mostly ONS codes), else a column named like area names."""
    header = table.rows[header_index]
    skip = skip or set()
    area = column_index(header, options.area_column, _AREA_HEADERS, "area")
    if area is not None:
        return area
    body = [row for _n, row in body_rows(table, header_index)[:500]]
    for i in range(len(header)):
        if i in skip:
            continue
        cells = [row[i] for row in body if i < len(row) and row[i]]
        if cells and sum(bool(ONS_CODE.match(c.upper())) for c in cells) >= 0.8 * len(cells):
            return i
    return column_index(header, None, _NAME_HEADERS, "area")


def read_wide(table: Table, header_index: int, options: Options) -> Reading:
    header = table.rows[header_index]
    first = next((row for row in table.rows[:header_index] if any(row)), [])
    cells = [c for c in first if c]
    # "Dataset:","Households on Universal Credit" (Stat-Xplore): the label is not part of the title.
    title = " ".join(cells[1:] if len(cells) > 1 and cells[0].endswith(":") else cells)
    period_cols = period_columns(header, options.year_type)
    if not period_cols:
        raise OperationError("The header has no period columns (such as 2019, 2019/20 or 2015-08).", "file")
    area = area_column_index(table, header_index, options, set(period_cols))
    if area is None:
        area = next((i for i, h in enumerate(header) if h and i not in period_cols), None)
    if area is None:
        raise OperationError("The wide table has no area column (code or name); name it with --area-column.", "file")
    name = options.indicator or title or Path(table.name).stem.replace("_", " ")
    reading = new_reading(
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
    for rownum, row in body_rows(table, header_index):
        period_cells = {i: cell_at(row, i) for i in period_cols}
        area_text = cell_at(row, area)
        if not any(period_cells.values()):
            reading.ignored_lines += 1  # blank line, footnote or source line
            continue
        reading.data_rows += 1
        if not area_text:
            reading.skipped.append((rownum, header[area], "no area code or name"))
            continue
        for i, h in period_cols.items():
            if period_cells[i] == "":
                continue
            reading.values.append(RawValue(rownum, h, name, area_text, h, period_cells[i], unit=options.unit or ""))
    return reading


# Measures: one row per area, one column per measure ------------------------------------------------------------------

_PERIOD_HEADERS = ("period", "date", "year", "time_period")
_SUFFIX = re.compile(r"^(?P<stem>.+?)[\s_\-]+(?P<what>score|rank|decile)$", re.IGNORECASE)
_DEPRIVATION = re.compile(r"depriv|\bimd\b|^imd|idaci|idaopi", re.IGNORECASE)


def numeric_columns(table: Table, header_index: int, options: Options) -> list[int]:
    """Columns (other than the area and period columns) whose filled cells are mostly numbers or markers."""
    header = table.rows[header_index]
    area = area_column_index(table, header_index, options)
    period = column_index(header, options.period_column, _PERIOD_HEADERS, "period")
    body = [row for _n, row in body_rows(table, header_index)[:500] if any(row)]
    out = []
    for i, h in enumerate(header):
        if not h or i in (area, period):
            continue
        cells = [row[i] for row in body if i < len(row) and row[i]]
        numeric = sum(
            bool(NUMBERISH.match(c.replace(" ", ""))) or c.lower() in ("..", ".", "c", "x", "*", "-", ":", "[c]", "[x]")
            for c in cells
        )
        if cells and numeric >= 0.9 * len(cells):
            out.append(i)
    return out


def _measure_option(options: Options, column: str) -> tuple[str | None, Polarity | None]:
    for name, text in options.measures:
        if norm_name(name) == norm_name(column):
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
    area = area_column_index(table, header_index, options)
    if area is None:
        raise OperationError("No area code column was found; name it with --area-column.", "area_column")
    period_col = column_index(header, options.period_column, _PERIOD_HEADERS, "period")
    numeric = numeric_columns(table, header_index, options)
    if not numeric:
        raise OperationError("No column of numbers was found beside the area column.", "file")
    if period_col is None and not options.period:
        raise OperationError(
            "This is one row per area and one column per measure, with no period column: say which period the "
            "values are for with --period (e.g. --period 2024 or --period 2023/24).",
            "period",
        )
    known = {norm_name(name) for name, _ in options.measures}
    unknown = known - {norm_name(header[i]) for i in numeric}
    if unknown:
        raise OperationError(f"--measure names no numeric column: {', '.join(sorted(unknown))}.", "measure")
    # Group X score / X rank / X decile into one measure X.
    groups: dict[str, dict[str, int]] = {}
    for i in numeric:
        m = _SUFFIX.match(header[i].strip())
        stem, what = (m.group("stem").strip(" _-"), m.group("what").lower()) if m else (header[i].strip(), "value")
        groups.setdefault(stem, {})[what] = i
    reading = new_reading(
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
            unit: str | None = "rank"
            kind: ValueKind | None = ValueKind.RANK
            polarity = given_polarity or options.polarity or (Polarity.HIGHER_IS_BETTER if deprivation else None)
        elif "score" in cols:
            unit, kind = given_unit or "score", ValueKind.SCORE
            polarity = given_polarity or options.polarity or (Polarity.HIGHER_IS_WORSE if deprivation else None)
        else:
            unit = given_unit or options.unit or unit_from_name(stem)
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
            key=norm_name(stem),
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
    for rownum, row in body_rows(table, header_index):
        if not any(row):
            continue
        reading.data_rows += 1
        period = options.period or cell_at(row, period_col)
        for stem, cols in groups.items():
            name = stem.replace("_", " ").strip()
            first = header[next(iter(cols.values()))]
            reading.values.append(
                RawValue(
                    rownum,
                    first,
                    name,
                    cell_at(row, area),
                    period,
                    cell_at(row, cols.get("value", cols.get("score"))),
                    cell_at(row, cols.get("rank")),
                    cell_at(row, cols.get("decile")),
                    unit=reading.indicators[name].unit,
                )
            )
    return reading
