"""The layouts commintel reads: each one's description, how a file's layout is recognised from its header, and
the reader of each."""

from __future__ import annotations

from collections.abc import Callable

from indicators.readers import (
    Options,
    Reading,
    Table,
    norm_name,
    period_columns,
)
from indicators.readers_iod import looks_like_iod, read_iod
from indicators.readers_publishers import (
    CENSUS_COLUMNS,
    FINGERTIPS_COLUMNS,
    NOMIS_COLUMNS,
    read_census,
    read_fingertips,
    read_nomis,
)
from indicators.readers_tables import (
    area_column_index,
    looks_like_tidy,
    numeric_columns,
    read_measures,
    read_tidy,
    read_wide,
)
from webapp.operations import OperationError

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
    normed = {norm_name(h) for h in header}
    if looks_like_iod(header):
        return "iod"
    if set(FINGERTIPS_COLUMNS) <= normed:
        return "fingertips"
    if set(NOMIS_COLUMNS) <= normed and normed & {"date_name", "date"}:
        return "nomis"
    if [norm_name(h) for h in header[:3]] == list(CENSUS_COLUMNS) and len(header) > 3:
        return "census"
    if looks_like_tidy(header, options):
        return "tidy"
    if period_columns(header, options.year_type):
        return "wide"
    if area_column_index(table, header_index, options) is not None and numeric_columns(table, header_index, options):
        return "measures"
    found = ", ".join(repr(h) for h in header if h) or "none"
    formats = "; ".join(f"{name} ({text})" for name, text in FORMATS.items())
    raise OperationError(
        f"The layout of {table.name} is not one commintel reads. Formats: {formats}. Columns found: {found} "
        f"(header row {header_index + 1}). Name the format with --format and the columns with --area-column, "
        "--period-column, --value-column; nothing was imported.",
        "format",
    )


READERS: dict[str, Callable[[Table, int, Options], Reading]] = {
    "iod": read_iod,
    "fingertips": read_fingertips,
    "nomis": read_nomis,
    "census": read_census,
    "tidy": read_tidy,
    "wide": read_wide,
    "measures": read_measures,
}
