"""The import pipeline: read a file (:mod:`indicators.readers`), read its periods, match its areas, parse its
numbers, and store one dataset release, replacing what an earlier import of the same release stored.

Operations flush and never commit: the CLI commits once, so a failed import leaves the previous values intact.
What is skipped is reported (row, column, reason); unknown area codes and unmatched names are listed, never dropped
without a word. Nothing importable at all is an :class:`ImportFailed` carrying the report.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy import delete, insert, select

from indicators import periods
from indicators.models import Indicator, IndicatorDataset, IndicatorValue, Polarity, ValueKind
from indicators.readers import ONS_CODE, READERS, Options, Reading, detect, read_table
from webapp.extensions import db
from webapp.models import Area, AreaLevel, utcnow
from webapp.operations import OperationError, record

log = logging.getLogger(__name__)

# Markers official tables put where a value is withheld or not available.
SUPPRESSION_MARKERS = frozenset(
    {"..", ".", "c", "x", "*", "-", ":", "z", "~", "u", "low", "[c]", "[x]", "[z]", "[u]", "[low]", "n/a", "na"}
)
_NUMBER = re.compile(r"^[-+]?(\d{1,3}(,\d{3})+|\d+)?(\.\d+)?$")
_FOOTNOTE = re.compile(r"^(?P<num>.*?\d)\s*(?P<note>\[[^\]]*\]|\([a-z0-9 ]+\)|[rpe])$", re.IGNORECASE)


class ImportFailed(OperationError):
    def __init__(self, message: str, report: ImportReport):
        super().__init__(message, "file")
        self.report = report


@dataclass
class ImportReport:
    filename: str
    format: str = ""
    dataset: IndicatorDataset | None = None
    replaced: int = 0
    imported: int = 0
    suppressed: int = 0
    indicators: list[str] = field(default_factory=list)
    periods: list[str] = field(default_factory=list)
    skipped: list[tuple[int, str, str]] = field(default_factory=list)
    unknown_codes: Counter = field(default_factory=Counter)
    unmatched_names: Counter = field(default_factory=Counter)
    ignored_columns: list[str] = field(default_factory=list)
    ignored_lines: int = 0

    @property
    def skipped_by_reason(self) -> Counter:
        return Counter(_reason_kind(reason) for _, _, reason in self.skipped)

    def lines(self, examples: int = 10) -> list[str]:
        """What the CLI prints: imported, replaced, skipped and why (with examples), unmatched areas."""
        out = [f"{self.filename}: read as {self.format or 'unknown layout'}."]
        if self.dataset is not None:
            out.append(f"Dataset: {self.dataset.title} ({self.dataset.release_label}).")
        out.append(
            f"Values imported: {self.imported:,} ({self.suppressed:,} marked suppressed by the source) for "
            f"{len(self.indicators)} indicator(s), {len(self.periods)} period(s)."
        )
        if self.replaced:
            out.append(f"Replaced {self.replaced:,} values from the previous import of this release.")
        out.append(f"Rows/cells skipped: {len(self.skipped):,}.")
        for reason, n in self.skipped_by_reason.most_common():
            out.append(f"  {n:,} × {reason}")
        for row, column, reason in self.skipped[:examples]:
            out.append(f"    row {row}, column {column!r}: {reason}")
        if len(self.skipped) > examples:
            out.append(f"    ... and {len(self.skipped) - examples:,} more")
        if self.unknown_codes:
            codes = ", ".join(sorted(self.unknown_codes)[:examples])
            more = f" and {len(self.unknown_codes) - examples:,} more" if len(self.unknown_codes) > examples else ""
            out.append(f"Unknown area codes ({len(self.unknown_codes):,}; load their geography first): {codes}{more}")
        if self.unmatched_names:
            names = "; ".join(sorted(self.unmatched_names))
            out.append(f"Area names that matched no area ({len(self.unmatched_names):,}): {names}")
        if self.ignored_columns:
            out.append(f"Columns ignored: {', '.join(self.ignored_columns)}.")
        if self.ignored_lines:
            out.append(f"Lines ignored (blank, notes, filtered out): {self.ignored_lines:,}.")
        return out


def _reason_kind(reason: str) -> str:
    return reason.split(":", 1)[0]


def normalise_name(name: str) -> str:
    """Area names as published vary ("Bristol, City of", "Bristol City of", "City of Bristol"): compare word sets."""
    words = re.sub(r"[^a-z0-9]+", " ", name.lower().replace("&", " and ")).split()
    return " ".join(sorted(w for w in words if w))


def parse_number(text: str) -> tuple[float | None, bool, str]:
    """(value, suppressed, note) from a cell; raises ValueError for text that is neither a number nor a marker."""
    raw = text.strip()
    if raw.lower() in SUPPRESSION_MARKERS:
        return None, True, raw
    note = ""
    if m := _FOOTNOTE.match(raw):
        raw, note = m.group("num"), m.group("note")
    cleaned = raw.replace("%", "").replace("£", "").replace(" ", "").replace("\u00a0", "")
    if not cleaned or not _NUMBER.match(cleaned) or cleaned in {"+", "-", "."}:
        raise ValueError(f"{text!r} is not a number or a suppression marker")
    return float(cleaned.replace(",", "")), False, note


def _parse_int(text: str, what: str, low: int, high: int) -> int | None:
    if not text:
        return None
    if text.isdigit():  # the common case, kept fast: a full England IoD file has half a million ranks and deciles
        number = int(text)
        if not low <= number <= high:
            raise ValueError(f"{what} {text!r} is outside {low}–{high}")
        return number
    try:
        number = float(text.replace(",", ""))
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a number") from None
    if not number.is_integer() or not low <= number <= high:
        raise ValueError(f"{what} {text!r} is outside {low}–{high}")
    return int(number)


@dataclass
class _Geography:
    by_code: dict[str, tuple[int, AreaLevel]]
    by_name: dict[tuple[str, AreaLevel], list[int]]
    level_of: dict[int, AreaLevel]

    @classmethod
    def load(cls) -> _Geography:
        by_code, by_name, level_of = {}, {}, {}
        for area_id, code, name, level in db.session.execute(select(Area.id, Area.code, Area.name, Area.level)):
            by_code[code] = (area_id, level)
            by_name.setdefault((normalise_name(name), level), []).append(area_id)
            level_of[area_id] = level
        return cls(by_code, by_name, level_of)

    def match(self, text: str, level: AreaLevel | None) -> tuple[int | None, str]:
        """(area id, reason when None)."""
        text = text.strip()
        if ONS_CODE.match(text.upper()):
            found = self.by_code.get(text.upper())
            if found is None:
                return None, "unknown area code"
            if level is not None and found[1] is not level:
                return None, f"area is a {found[1].label.lower()}, not a {level.label.lower()}"
            return found[0], ""
        key = normalise_name(text)
        levels = [level] if level is not None else [AreaLevel.LAD, AreaLevel.WARD, AreaLevel.LSOA, AreaLevel.CUSTOM]
        for lv in levels:
            ids = self.by_name.get((key, lv))
            if ids and len(ids) == 1:
                return ids[0], ""
            if ids:
                return None, "area name is ambiguous"
        return None, "area name matched no area"


def release_key(title: str, release_date: date | None) -> str:
    return f"{normalise_name(title)}@{release_date.isoformat() if release_date else 'undated'}"


def import_file(path: Path | str, options: Options | None = None, actor=None) -> ImportReport:
    """Read ``path`` and store its values as one dataset release, replacing an earlier import of that release.

    Raises :class:`OperationError` for a file that cannot be read (empty, unknown layout, several sheets, mixed
    periods) and :class:`ImportFailed` (with the report) when no value at all could be imported.
    """
    options = options or Options()
    path = Path(path)
    table = read_table(path, options.sheet)
    fmt = options.format if options.format != "auto" else detect(table, options)
    if fmt not in READERS:
        raise OperationError(f"Unknown format {fmt!r}; formats: auto, {', '.join(READERS)}.", "format")
    reading = READERS[fmt](table, options)
    report = ImportReport(
        filename=path.name + (f" (sheet {table.sheet})" if table.sheet else ""),
        format=fmt,
        skipped=list(reading.skipped),
        ignored_columns=reading.ignored_columns,
        ignored_lines=reading.ignored_lines,
    )
    rows = _validate(reading, options, report)
    if not rows:
        raise ImportFailed(f"Nothing could be imported from {path.name}: no row had a usable value.", report)
    _store(reading, rows, options, report, path.name)
    record(
        "indicators.import",
        "indicator_dataset",
        report.dataset.id,
        actor,
        imported=report.imported,
        skipped=len(report.skipped),
        replaced=report.replaced,
    )
    log.info("indicator import %s: %s values, %s skipped", report.dataset.id, report.imported, len(report.skipped))
    return report


def _validate(reading: Reading, options: Options, report: ImportReport) -> list[dict]:
    level = AreaLevel(options.level) if options.level else None
    geography = _Geography.load()
    # Periods: each indicator's series must be of one kind.
    series: dict[str, set[str]] = {}
    for raw in reading.values:
        series.setdefault(raw.indicator, set()).add(raw.period)
    parsed: dict[tuple[str, str], periods.Period] = {}
    for name, texts in series.items():
        found, problems = periods.parse_series(sorted(texts), options.year_type)
        mixed = [p for p in problems if p.startswith("mixed periods")]
        if mixed:
            raise OperationError(f"Indicator {name!r}: {mixed[0]}. Split the file or fix the periods.", "period")
        for text, period in found.items():
            parsed[(name, text)] = period
    rows: list[dict] = []
    seen: dict[tuple[str, int, str], tuple[int, tuple]] = {}
    conflicts: list[str] = []
    unmatched_rows: set[tuple[int, str]] = set()
    match_cache: dict[str, tuple[int | None, str]] = {}
    area_column = reading.area_column
    for raw in reading.values:
        period = parsed.get((raw.indicator, raw.period.strip()))
        if period is None:
            report.skipped.append((raw.row, raw.column, f"not a period: {raw.period!r}"))
            continue
        matched = match_cache.get(raw.area)
        if matched is None:
            matched = match_cache[raw.area] = geography.match(raw.area, level)
        area_id, why = matched
        if area_id is None:
            if (raw.row, raw.area) not in unmatched_rows:  # one line per row, not per cell of the row
                unmatched_rows.add((raw.row, raw.area))
                report.skipped.append((raw.row, area_column, f"{why}: {raw.area!r}"))
                if why == "unknown area code":
                    report.unknown_codes[raw.area.strip().upper()] += 1
                elif why == "area name matched no area":
                    report.unmatched_names[raw.area.strip()] += 1
            continue
        try:
            value, suppressed, note = (None, False, "") if raw.value == "" else parse_number(raw.value)
            rank = _parse_int(raw.rank, "rank", 1, 10_000_000)
            decile = _parse_int(raw.decile, "decile", 1, 10)
        except ValueError as exc:
            report.skipped.append((raw.row, raw.column, f"text in a numeric cell: {exc}"))
            continue
        if value is None and not suppressed and rank is None and decile is None:
            report.skipped.append((raw.row, raw.column, "empty value"))
            continue
        key = (raw.indicator, area_id, period.key)
        content = (value, suppressed, rank, decile)
        if key in seen:
            first_row, first_content = seen[key]
            if first_content == content:
                report.skipped.append((raw.row, raw.column, f"duplicate: same as row {first_row}"))
                continue
            conflicts.append(
                f"rows {first_row} and {raw.row} give different values for {raw.indicator!r}, {raw.area}, "
                f"{period.label}"
            )
            continue
        seen[key] = (raw.row, content)
        rows.append(
            {
                "indicator": raw.indicator,
                "area_id": area_id,
                "level": geography.level_of[area_id],
                "period_key": period.key,
                "period_kind": period.kind.value,
                "period_start": period.start,
                "period_end": period.end,
                "value": value,
                "rank": rank,
                "decile": decile,
                "suppressed": suppressed,
                "note": note[:200],
                "unit": raw.unit,
            }
        )
    if conflicts:
        more = f" (and {len(conflicts) - 5} more)" if len(conflicts) > 5 else ""
        listed = "; ".join(conflicts[:5])
        raise OperationError(f"Duplicate rows disagree: {listed}{more}. Nothing was imported.", "file")
    return rows


def _store(reading: Reading, rows: list[dict], options: Options, report: ImportReport, filename: str) -> None:
    defaults = reading.defaults
    title = options.dataset_title or defaults.get("dataset_title") or Path(filename).stem.replace("_", " ")
    release = options.release_date
    if release is None and "release_date" in defaults:
        release = date.fromisoformat(defaults["release_date"])
    key = release_key(title, release)
    dataset = db.session.scalar(select(IndicatorDataset).where(IndicatorDataset.release_key == key))
    if dataset is None:
        dataset = IndicatorDataset(title=title, release_key=key, release_date=release)
        db.session.add(dataset)
    for attr in ("publisher", "licence", "source_url", "methodology_note"):
        given = getattr(options, attr)
        if given is not None or not getattr(dataset, attr):
            setattr(dataset, attr, given if given is not None else defaults.get(attr, ""))
    dataset.source_filename = filename[:300]
    dataset.imported_at = utcnow()
    db.session.flush()

    existing = {i.name: i for i in dataset.indicators}
    old_ids = [i.id for i in existing.values()]
    if old_ids:
        report.replaced = db.session.execute(
            delete(IndicatorValue).where(IndicatorValue.indicator_id.in_(old_ids))
        ).rowcount
    levels: dict[str, Counter] = {}
    units: dict[str, Counter] = {}
    for row in rows:
        levels.setdefault(row["indicator"], Counter())[row["level"]] += 1
        if row["unit"]:
            units.setdefault(row["indicator"], Counter())[row["unit"]] += 1
    indicators: dict[str, Indicator] = {}
    for position, (name, spec) in enumerate(reading.indicators.items()):
        if name not in levels:
            continue
        indicator = existing.get(name) or Indicator(dataset=dataset, name=name[:300])
        indicator.position = position
        indicator.unit = options.unit or spec.unit or (units[name].most_common(1)[0][0] if name in units else "")
        indicator.polarity = options.polarity or spec.polarity
        indicator.value_kind = options.value_kind or (
            spec.value_kind if reading.format == "iod" else _guess_kind(indicator.unit)
        )
        indicator.level = AreaLevel(options.level) if options.level else levels[name].most_common(1)[0][0]
        indicator.description = spec.description or indicator.description or ""
        indicators[name] = indicator
        db.session.add(indicator)
    for name, indicator in existing.items():
        if name not in indicators:
            db.session.delete(indicator)  # the new file no longer has it
    db.session.flush()
    payload = [
        {
            "indicator_id": indicators[r["indicator"]].id,
            "area_id": r["area_id"],
            "period_key": r["period_key"],
            "period_kind": r["period_kind"],
            "period_start": r["period_start"],
            "period_end": r["period_end"],
            "value": r["value"],
            "rank": r["rank"],
            "decile": r["decile"],
            "suppressed": r["suppressed"],
            "note": r["note"],
        }
        for r in rows
    ]
    _bulk_insert(payload)
    db.session.expire(dataset)
    report.dataset = dataset
    report.imported = len(payload)
    report.suppressed = sum(1 for r in rows if r["suppressed"])
    report.indicators = list(indicators)
    report.periods = sorted({r["period_key"] for r in rows})


VALUE_COLUMNS = (
    "indicator_id",
    "area_id",
    "period_key",
    "period_kind",
    "period_start",
    "period_end",
    "value",
    "rank",
    "decile",
    "suppressed",
    "note",
)


def _bulk_insert(payload: list[dict]) -> None:
    """Insert many values in the session's transaction: COPY on PostgreSQL (a full England IoD file is 262,752
    values; row-by-row executemany takes most of a minute), executemany elsewhere."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg":
        cursor = connection.connection.dbapi_connection.cursor()
        try:
            with cursor.copy(f"COPY indicator_values ({', '.join(VALUE_COLUMNS)}) FROM STDIN") as copy:
                for row in payload:
                    copy.write_row(tuple(row[c] for c in VALUE_COLUMNS))
        finally:
            cursor.close()
        return
    table = IndicatorValue.__table__
    for start in range(0, len(payload), 20_000):
        db.session.execute(insert(table), payload[start : start + 20_000])


def _guess_kind(unit: str) -> ValueKind:
    unit = unit.strip().lower()
    if unit in ("count", "number", "reports", "people", "households", "n"):
        return ValueKind.COUNT
    if unit in ("score",):
        return ValueKind.SCORE
    return ValueKind.RATE


__all__ = ["ImportFailed", "ImportReport", "Options", "Polarity", "ValueKind", "import_file", "parse_number"]
