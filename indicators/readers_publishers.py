"""Readers of the files statistics publishers export as they are: OHID Fingertips, Nomis downloads and Nomis
bulk Census tables."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from indicators.models import Polarity, ValueKind
from indicators.readers import (
    OGL,
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
    unit_from_name,
)

FINGERTIPS_COLUMNS = ("indicator_id", "indicator_name", "area_code", "time_period", "value")
NOMIS_COLUMNS = ("geography_code", "obs_value")
CENSUS_COLUMNS = ("date", "geography", "geography_code")


# Fingertips ---------------------------------------------------------------------------------------------------------

_FT_ABOVE = ("E92000001",)


def read_fingertips(table: Table, header_index: int, options: Options) -> Reading:
    header = table.rows[header_index]
    col = {
        name: column_index(header, None, (name,), name)
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
    reading = new_reading(
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
    for rownum, row in body_rows(table, header_index):
        if not any(row):
            continue
        reading.data_rows += 1
        if cell_at(row, col["category_type"]):
            breakdowns += 1  # a breakdown (by deprivation decile, ethnicity ...): not an area's overall value
            reading.ignored_lines += 1
            continue
        rows.append((rownum, row))
    if breakdowns:
        reading.notes.append(f"{breakdowns:,} rows of breakdowns by category (Category Type set) left out.")
    combos: dict[str, set[tuple[str, str]]] = {}
    for _n, row in rows:
        combos.setdefault(cell_at(row, col["indicator_id"]), set()).add(
            (cell_at(row, col["sex"]), cell_at(row, col["age"]))
        )
    england: dict[tuple[str, str], float] = {}
    id_of: dict[str, str] = {}
    judged: dict[str, list[tuple[float, str, tuple[str, str]]]] = {}
    for rownum, row in rows:
        ind_id = cell_at(row, col["indicator_id"])
        sex, age = cell_at(row, col["sex"]), cell_at(row, col["age"])
        base = cell_at(row, col["indicator_name"]) or f"Fingertips indicator {ind_id}"
        name = f"{base} ({sex}, {age})" if len(combos[ind_id]) > 1 else base
        id_of[name] = ind_id
        if name not in reading.indicators:
            breakdown = f"-{norm_name(sex)}-{norm_name(age)}" if len(combos[ind_id]) > 1 else ""
            reading.indicators[name] = IndicatorSpec(
                name,
                unit=options.unit or unit_from_name(base) or "",
                polarity=options.polarity,
                key=f"fingertips-{ind_id}{breakdown}",
                columns=[header[col["value"]]],
            )
        value, period, area = (
            cell_at(row, col["value"]),
            cell_at(row, col["time_period"]),
            cell_at(row, col["area_code"]),
        )
        note = cell_at(row, col["value_note"])
        reading.values.append(
            RawValue(
                rownum,
                header[col["value"]],
                name,
                area,
                options.period or period,
                value if value else ("[x]" if note else ""),
                unit=reading.indicators[name].unit,
                lower=cell_at(row, col["lower_ci_95_0_limit"]),
                upper=cell_at(row, col["upper_ci_95_0_limit"]),
                note=note,
            )
        )
        try:
            number = float(value)
        except ValueError:
            continue
        if area in _FT_ABOVE:
            england[(name, period)] = number
        comparison = cell_at(row, col["compared_to_england_value_or_percentiles"]).lower()
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
    normed = [norm_name(h) for h in header]
    geo = normed.index("geography_code")
    value = normed.index("obs_value")
    date_col = normed.index("date_name") if "date_name" in normed else normed.index("date")
    measures = normed.index("measures_name") if "measures_name" in normed else None
    status = normed.index("obs_status") if "obs_status" in normed else None
    geo_type = normed.index("geography_type") if "geography_type" in normed else None
    dims = [i for i, n in enumerate(normed) if n.endswith("_name") and n not in _NOMIS_META]
    body = [(n, row) for n, row in body_rows(table, header_index) if any(row)]
    varying = [i for i in dims if len({cell_at(row, i) for _, row in body}) > 1]
    measure_values = {cell_at(row, measures) for _, row in body} if measures is not None else set()
    title = options.dataset_title or Path(table.name).stem.replace("_", " ")
    reading = new_reading(
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
    years = {m.group(0) for _, row in body[:50] if (m := re.search(r"(19|20)\d\d", cell_at(row, geo_type)))}
    if len(years) == 1:
        reading.vintage_hint = int(years.pop())
    constant = [i for i in dims if i not in varying and normed[i] not in ("gender_name", "age_name", "sex_name")]
    for rownum, row in body:
        reading.data_rows += 1
        parts = [cell_at(row, i) for i in varying]
        measure = cell_at(row, measures)
        if len(measure_values) > 1 or (measure and measure.lower() not in ("value", "")):
            parts.append(measure)
        # Named from what varies between rows; else from the dataset's own measure (MEASURE_NAME "Claimant
        # count"); else from the title or file name.
        named = [p for p in parts if p] or [c for i in constant if (c := cell_at(row, i))][:1]
        name = options.indicator or (" — ".join(named) if named else title)
        if name not in reading.indicators:
            described = " ".join([*(cell_at(row, i) for i in dims), measure])
            unit = options.unit or ("%" if measure.lower().startswith("percent") else unit_from_name(described) or "")
            reading.indicators[name] = IndicatorSpec(
                name, unit=unit, polarity=options.polarity, columns=[header[value]]
            )
        cell = cell_at(row, value)
        obs_status = cell_at(row, status)
        reading.values.append(
            RawValue(
                rownum,
                header[value],
                name,
                cell_at(row, geo),
                options.period or cell_at(row, date_col),
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
    reading = new_reading(
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
    body = [(n, row) for n, row in body_rows(table, header_index) if any(row)]
    dates = {cell_at(row, 0) for _, row in body}
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
            key=norm_name(name),
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
                        cell_at(row, 2),
                        options.period or cell_at(row, 0),
                        cell_at(row, i),
                        unit=reading.indicators[name].unit,
                    )
                )
    reading.ignored_columns = [header[1]]
    reading.notes.append("Census counts are neither good nor bad: stored with no direction (polarity neutral).")
    return reading
