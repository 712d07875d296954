"""The reader of the English Indices of Deprivation (IoD2019 and IoD2025, official gov.uk files or the
humaniverse/IMD copy): each domain one indicator holding its score, rank and decile."""

from __future__ import annotations

import re

from indicators.models import Polarity, ValueKind
from indicators.readers import (
    MHCLG,
    OGL,
    IndicatorSpec,
    Options,
    RawValue,
    Reading,
    Table,
    body_rows,
    cell_at,
    new_reading,
)
from webapp.operations import OperationError

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
    reading = new_reading(
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
    for rownum, row in body_rows(table, header_index):
        if not any(row):
            continue
        reading.data_rows += 1
        code = cell_at(row, area_col)
        for name, cols in specs:
            first = header[cols.get("rank", cols.get("decile", cols.get("score")))]
            reading.values.append(
                RawValue(
                    rownum,
                    first,
                    name,
                    code,
                    period,
                    cell_at(row, cols.get("score")),
                    cell_at(row, cols.get("rank")),
                    cell_at(row, cols.get("decile")),
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
