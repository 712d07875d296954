"""The import pipeline: read a file (:mod:`indicators.readers`), read its periods, match its areas, parse its
numbers, check that the file was understood, and store one dataset release, replacing what an earlier import of
the same release stored.

A file is stored only when it was understood: its header row is names, not data (checked by the reader); at least
half of the rows whose area could be recognised matched an area (rows for other places of a kind commintel holds,
and for England or regions, are reported but do not count against it); every indicator has a known direction and,
where the layout does not carry one, a unit; its areas are of one geography vintage; and its release date is
known (from the headers of a recognised publication, or given). The report of what was understood is printed
before anything is stored, and with every refusal.

Operations flush and never commit: the CLI commits once, so a failed import leaves the previous values intact.
What is skipped is reported (row, column, reason); unknown area codes and unmatched names are listed, never dropped
without a word. Nothing importable at all is an :class:`ImportFailed` carrying the report.

One module of about 580 lines on purpose: the pipeline's steps, read top to bottom in the order they run, with the
report they fill and the error they raise. What a step reads from a cell (numbers, markers, areas) is in
:mod:`indicators.import_values`; the layouts are in :mod:`indicators.layouts` and the ``readers`` modules.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy import delete, insert, select

from indicators import periods
from indicators.import_values import (
    AreaMatcher,
    normalise_name,
    parse_int,
    parse_number,
    parse_optional,
)
from indicators.layouts import READERS, detect
from indicators.models import Indicator, IndicatorDataset, IndicatorValue, Polarity, ValueKind
from indicators.readers import Options, Reading, find_header, read_table
from webapp.extensions import db
from webapp.models import AreaLevel, User, utcnow
from webapp.operations import OperationError, record

log = logging.getLogger(__name__)


class ImportFailed(OperationError):
    """The file was read but is refused (nothing stored): the report says what was understood, the message why."""

    def __init__(self, message: str, report: ImportReport):
        super().__init__(message, "file")
        self.report = report


@dataclass
class ImportReport:
    filename: str
    format: str = ""
    layout: str = ""
    header_row: int = 0
    area_column: str = ""
    dataset: IndicatorDataset | None = None
    dry_run: bool = False
    release_title: str = ""
    release_publisher: str = ""
    release_date: date | None = None
    release_source: str = ""  # where the date came from, in words
    replaced: int = 0
    imported: int = 0
    suppressed: int = 0
    values_read: int = 0
    indicators: list[str] = field(default_factory=list)
    indicator_lines: list[str] = field(default_factory=list)
    periods: list[str] = field(default_factory=list)
    skipped: list[tuple[int, str, str]] = field(default_factory=list)
    unknown_codes: Counter = field(default_factory=Counter)
    unmatched_names: Counter = field(default_factory=Counter)
    ignored_columns: list[str] = field(default_factory=list)
    ignored_lines: int = 0
    rows: Counter = field(default_factory=Counter)  # matched / elsewhere / wider / not understood, per data row
    matched_by: list[str] = field(default_factory=list)  # "LSOA 2021: 268 areas (259 also LSOA 2011)"
    notes: list[str] = field(default_factory=list)

    @property
    def stored(self) -> IndicatorDataset:
        """The dataset release stored (a dry run stores none: an :class:`OperationError` then)."""
        if self.dataset is None:
            raise OperationError("Nothing was stored: this was a dry run.", "file")
        return self.dataset

    @property
    def skipped_by_reason(self) -> Counter:
        return Counter(_reason_kind(reason) for _, _, reason in self.skipped)

    @property
    def rows_considered(self) -> int:
        """The rows the half-matched rule counts: matched ones and those not understood."""
        return self.rows["matched"] + self.rows["not understood"]

    def understanding(self, examples: int = 10) -> list[str]:
        """What the import understood of the file, printed before anything is stored (and with a refusal)."""
        out = [
            f"{self.filename}: read as {self.format or 'unknown layout'}"
            + (f" ({self.layout})." if self.layout else ".")
        ]
        if self.header_row:
            out.append(f"Header: row {self.header_row}; areas from column {self.area_column!r}.")
        if self.release_title:
            when = self.release_date.isoformat() if self.release_date else "not known"
            out.append(
                f"Release: {self.release_title} — {self.release_publisher or 'publisher not given'}; "
                f"released {when}{f' ({self.release_source})' if self.release_source else ''}."
            )
        if self.indicator_lines:
            out.append(f"Indicators ({len(self.indicator_lines)}):")
            out += [f"  {line}" for line in self.indicator_lines[:40]]
            if len(self.indicator_lines) > 40:
                out.append(f"  ... and {len(self.indicator_lines) - 40} more")
        if self.rows:
            considered = self.rows_considered
            share = f" ({self.rows['matched'] / considered:.0%})" if considered else ""
            out.append(f"Rows matched to an area: {self.rows['matched']:,} of {considered:,}{share}.")
            out += [f"  {line}" for line in self.matched_by]
            if self.rows["elsewhere"]:
                out.append(
                    f"  {self.rows['elsewhere']:,} rows for places outside the loaded geography (codes of a kind "
                    "commintel holds, other places): reported, not stored, not counted against the file."
                )
            if self.rows["wider"]:
                out.append(f"  {self.rows['wider']:,} rows for England, regions or counties (comparators): not stored.")
            if self.rows["not understood"]:
                out.append(f"  {self.rows['not understood']:,} rows whose area was not understood.")
        if self.periods:
            first, last = self.periods[0], self.periods[-1]
            out.append(f"Periods: {len(self.periods)} ({first}{f' to {last}' if last != first else ''}).")
        if self.values_read:
            out.append(f"Values read: {self.values_read:,}.")
        out += self.notes
        if self.unknown_codes:
            codes = ", ".join(sorted(self.unknown_codes)[:examples])
            more = f" and {len(self.unknown_codes) - examples:,} more" if len(self.unknown_codes) > examples else ""
            out.append(f"Unknown area codes ({len(self.unknown_codes):,}; load their geography first): {codes}{more}")
        if self.unmatched_names:
            names = "; ".join(sorted(self.unmatched_names)[:examples])
            more = f" and {len(self.unmatched_names) - examples:,} more" if len(self.unmatched_names) > examples else ""
            out.append(f"Area names that matched no area ({len(self.unmatched_names):,}): {names}{more}")
        if self.ignored_columns:
            out.append(f"Columns ignored: {', '.join(self.ignored_columns)}.")
        if self.ignored_lines:
            out.append(f"Lines ignored (blank, notes, filtered out): {self.ignored_lines:,}.")
        return out

    def lines(self, examples: int = 10) -> list[str]:
        """What the CLI prints: what was understood, then what was stored (or that nothing was)."""
        out = self.understanding(examples)
        if self.dataset is not None:
            out.append(f"Dataset: {self.dataset.title} ({self.dataset.release_label}).")
        verb = "that would be imported" if self.dry_run else "imported"
        out.append(
            f"Values {verb}: {self.imported:,} ({self.suppressed:,} marked suppressed by the source) for "
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
        if self.dry_run:
            out.append("Dry run: nothing was stored.")
        return out


def _reason_kind(reason: str) -> str:
    return reason.split(":", 1)[0]


def release_key(title: str, release_date: date | None) -> str:
    return f"{normalise_name(title)}@{release_date.isoformat() if release_date else 'undated'}"


def import_file(
    path: Path | str, options: Options | None = None, actor: User | None = None, dry_run: bool = False
) -> ImportReport:
    """Read ``path``, check that it was understood, and store its values as one dataset release, replacing an
    earlier import of that release (unless ``dry_run``: then only the report is made).

    Raises :class:`OperationError` for a file that cannot be read (empty, no trustworthy header row, unknown
    layout, several sheets, mixed periods) and :class:`ImportFailed`, carrying the report of what was understood,
    for a file that was read but is refused: fewer than half of its rows matched an area, no usable value, no
    release date, measures of unknown unit or direction, or areas of two geography vintages in one indicator.
    """
    options = options or Options()
    path = Path(path)
    table = read_table(path, options.sheet)
    header_index = find_header(table, options.year_type)
    fmt = options.format if options.format != "auto" else detect(table, header_index, options)
    if fmt not in READERS:
        raise OperationError(f"Unknown format {fmt!r}; formats: auto, {', '.join(READERS)}.", "format")
    reading = READERS[fmt](table, header_index, options)
    report = ImportReport(
        filename=path.name + (f" (sheet {table.sheet})" if table.sheet else ""),
        format=fmt,
        layout=reading.layout,
        header_row=reading.header_row,
        area_column=reading.area_column,
        skipped=list(reading.skipped),
        ignored_columns=reading.ignored_columns,
        ignored_lines=reading.ignored_lines,
        notes=list(reading.notes),
        dry_run=dry_run,
    )
    release = _release(reading, options, path.name, report)
    rows = _validate(reading, options, report)
    vintages = _vintages(reading, rows, options, report)
    report.values_read = len(rows)
    report.periods = sorted(
        {r["period_key"] for r in rows}, key=lambda k: min(r["period_start"] for r in rows if r["period_key"] == k)
    )
    _describe_indicators(reading, rows, options, vintages, report)
    _refuse_what_was_not_understood(reading, rows, release, report, path.name)
    if dry_run:
        report.imported = len(rows)
        report.suppressed = sum(1 for r in rows if r["suppressed"])
        report.indicators = sorted({r["indicator"] for r in rows})
        return report
    _store(reading, rows, options, report, path.name, release, vintages)
    record(
        "indicators.import",
        "indicator_dataset",
        report.stored.id,
        actor,
        imported=report.imported,
        skipped=len(report.skipped),
        replaced=report.replaced,
    )
    log.info("indicator import %s: %s values, %s skipped", report.stored.id, report.imported, len(report.skipped))
    return report


@dataclass(frozen=True)
class _Release:
    title: str
    release_date: date | None
    note: str
    key: str


def _release(reading: Reading, options: Options, filename: str, report: ImportReport) -> _Release:
    defaults = reading.defaults
    title = options.dataset_title or defaults.get("dataset_title") or Path(filename).stem.replace("_", " ")
    if options.release_date is not None:
        when, source = options.release_date, "given with --release-date"
    elif "release_date" in defaults:
        when, source = date.fromisoformat(defaults["release_date"]), "the publisher's release date for these headers"
    else:
        when, source = None, ""
    note = options.release_note if options.release_note is not None else ""
    report.release_title, report.release_date = title, when
    report.release_source = f"{source}; {note}" if note and source else source or note
    report.release_publisher = options.publisher or defaults.get("publisher", "")
    return _Release(title, when, note, options.dataset_key or defaults.get("key", ""))


def _validate(reading: Reading, options: Options, report: ImportReport) -> list[dict]:
    level = AreaLevel(options.level) if options.level else None
    geography = AreaMatcher.load()
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
        for text, found_period in found.items():
            parsed[(name, text)] = found_period
    rows: list[dict] = []
    seen: dict[tuple[str, int, str], tuple[int, tuple]] = {}
    conflicts: list[str] = []
    unmatched_rows: set[tuple[int, str]] = set()
    match_cache: dict[str, tuple[int | None, str]] = {}
    row_status: dict[int, str] = {}
    area_column = reading.area_column
    for raw in reading.values:
        matched = match_cache.get(raw.area)
        if matched is None:
            matched = match_cache[raw.area] = geography.match(raw.area, level)
        area_id, why = matched
        if raw.row not in row_status and raw.area.strip():
            row_status[raw.row] = "matched" if area_id is not None else geography.unmatched_kind(raw.area)
        period = parsed.get((raw.indicator, raw.period.strip()))
        if period is None:
            report.skipped.append((raw.row, raw.column, f"not a period: {raw.period!r}"))
            continue
        if area_id is None:
            if (raw.row, raw.area) not in unmatched_rows:  # one line per row, not per cell of the row
                unmatched_rows.add((raw.row, raw.area))
                report.skipped.append((raw.row, area_column, f"{why}: {raw.area!r}"))
                if why == "unknown area code" and row_status.get(raw.row) != "wider":
                    report.unknown_codes[raw.area.strip().upper()] += 1
                elif why == "area name matched no area":
                    report.unmatched_names[raw.area.strip()] += 1
            continue
        try:
            value, suppressed, note = (None, False, "") if raw.value == "" else parse_number(raw.value)
            rank = parse_int(raw.rank, "rank", 1, 10_000_000)
            decile = parse_int(raw.decile, "decile", 1, 10)
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
                "vintages": geography.vintages.get(area_id, frozenset()),
                "period_key": period.key,
                "period_label": period.label,
                "period_kind": period.kind.value,
                "period_start": period.start,
                "period_end": period.end,
                "value": value,
                "rank": rank,
                "decile": decile,
                "suppressed": suppressed,
                "note": (raw.note if suppressed and raw.note else note or raw.note)[:200],
                "unit": raw.unit,
                "lower": parse_optional(raw.lower),
                "upper": parse_optional(raw.upper),
            }
        )
    report.rows = Counter(row_status.values())
    if conflicts:
        more = f" (and {len(conflicts) - 5} more)" if len(conflicts) > 5 else ""
        listed = "; ".join(conflicts[:5])
        raise OperationError(f"Duplicate rows disagree: {listed}{more}. Nothing was imported.", "file")
    return rows


def _vintages(reading: Reading, rows: list[dict], options: Options, report: ImportReport) -> dict[str, int | None]:
    """The geography vintage of each indicator: the one every matched area of its level carries (the file's own
    hint or --vintage deciding between vintages an unchanged code carries). Areas of two vintages that no
    single vintage covers (2011-only codes beside 2021-only ones) are refused."""
    per_indicator: dict[str, dict[int, tuple[AreaLevel, frozenset[int]]]] = {}
    for r in rows:
        per_indicator.setdefault(r["indicator"], {})[r["area_id"]] = (r["level"], r["vintages"])
    out: dict[str, int | None] = {}
    summary: dict[tuple[AreaLevel, int | None], set[int]] = {}
    for name, areas in per_indicator.items():
        level = Counter(lv for lv, _ in areas.values()).most_common(1)[0][0]
        sets = [v for lv, v in areas.values() if lv is level and v]
        vintage = None
        if sets:
            common = frozenset.intersection(*sets)
            if not common:
                by_year = Counter(max(v) for v in sets if len(v) == 1)
                described = ", ".join(f"{n:,} only in {level.label} {y}" for y, n in sorted(by_year.items()))
                raise ImportFailed(
                    f"Indicator {name!r} has areas of different geography vintages ({described}): one indicator "
                    "must be on one vintage. Split the file by vintage.",
                    report,
                )
            wanted = options.vintage or reading.vintage_hint
            if options.vintage and options.vintage not in common:
                raise ImportFailed(
                    f"--vintage {options.vintage}, but the areas of {name!r} are {level.label} "
                    f"{', '.join(map(str, sorted(common)))} ones.",
                    report,
                )
            vintage = wanted if wanted in common else max(common)
        out[name] = vintage
        summary.setdefault((level, vintage), set()).update(areas)
    for (level, vintage), ids in sorted(summary.items(), key=lambda item: -len(item[1])):
        label = f"{level.label} {vintage}" if vintage else f"{level.label} (vintage not recorded)"
        plural = "s" if len(ids) != 1 else ""
        others = Counter(
            y
            for r in {r["area_id"]: r for r in rows if r["area_id"] in ids}.values()
            for y in r["vintages"]
            if y != vintage
        )
        also = "".join(f" ({n:,} of them also {level.label} {y})" for y, n in sorted(others.items()))
        report.matched_by.append(f"{label}: {len(ids):,} area{plural}{also}")
    return out


def _describe_indicators(
    reading: Reading, rows: list[dict], options: Options, vintages: dict[str, int | None], report: ImportReport
) -> None:
    counts = Counter(r["indicator"] for r in rows)
    for name, spec in reading.indicators.items():
        polarity = options.polarity or spec.polarity
        kind = options.value_kind or spec.value_kind or _guess_kind(options.unit or spec.unit)
        parts = [
            f"unit {options.unit or spec.unit or 'not given'}",
            f"{kind.value}",
            polarity.label.lower() if polarity else "direction not known",
        ]
        if vintages.get(name):
            level = Counter(r["level"] for r in rows if r["indicator"] == name).most_common(1)[0][0]
            parts.append(f"geography {level.label} {vintages[name]}")
        source = f" from {', '.join(spec.columns)}" if spec.columns and len(spec.columns) <= 3 else ""
        report.indicator_lines.append(f"{name} [{'; '.join(parts)}]: {counts.get(name, 0):,} values{source}")


def _refuse_what_was_not_understood(
    reading: Reading, rows: list[dict], release: _Release, report: ImportReport, filename: str
) -> None:
    considered = report.rows_considered
    if considered and report.rows["matched"] * 2 < considered:
        raise ImportFailed(
            f"Only {report.rows['matched']:,} of {considered:,} rows of {filename} matched an area "
            f"({report.rows['matched'] / considered:.0%}): fewer than half, so the file was not understood (a wrong "
            "area column, names spelt differently, or a geography that is not loaded). Nothing was imported.",
            report,
        )
    if not rows:
        raise ImportFailed(f"Nothing could be imported from {filename}: no row had a usable value.", report)
    unknown = [n for n, s in reading.indicators.items() if s.polarity is None and n in {r["indicator"] for r in rows}]
    unitless = [n for n, s in reading.indicators.items() if reading.format in ("fingertips", "nomis") and not s.unit]
    if unknown or unitless:
        what = [f"{n} (direction)" for n in unknown] + [f"{n} (unit)" for n in unitless if n not in unknown]
        raise ImportFailed(
            f"commintel cannot tell what these indicators measure: {'; '.join(what[:10])}. Give --polarity "
            "worse|better|neutral and --unit (e.g. '%', 'per 100,000', 'count'). Nothing was imported.",
            report,
        )
    if release.release_date is None:
        raise ImportFailed(
            f"{filename} does not say when it was released: give the publisher's release date with --release-date "
            "YYYY-MM-DD (add --release-note if it is only approximate, e.g. 'date of the copy used'). Every value "
            "is shown with its release. Nothing was imported.",
            report,
        )


def _store(
    reading: Reading,
    rows: list[dict],
    options: Options,
    report: ImportReport,
    filename: str,
    release: _Release,
    vintages: dict[str, int | None],
) -> None:
    defaults = reading.defaults
    key = release_key(release.title, release.release_date)
    dataset = db.session.scalar(select(IndicatorDataset).where(IndicatorDataset.release_key == key))
    if dataset is None:
        dataset = IndicatorDataset(title=release.title, release_key=key, release_date=release.release_date)
        db.session.add(dataset)
    for attr in ("publisher", "licence", "source_url", "methodology_note"):
        given = getattr(options, attr)
        if given is not None or not getattr(dataset, attr):
            setattr(dataset, attr, given if given is not None else defaults.get(attr, ""))
    dataset.release_note = release.note[:300]
    if release.key:
        dataset.key = release.key
    dataset.source_filename = filename[:300]
    dataset.imported_at = utcnow()
    db.session.flush()

    existing = {i.name: i for i in dataset.indicators}
    old_ids = [i.id for i in existing.values()]
    if old_ids:
        deleted = db.session.execute(delete(IndicatorValue).where(IndicatorValue.indicator_id.in_(old_ids)))
        report.replaced = deleted.rowcount  # type: ignore[attr-defined]  # a DELETE's result is a CursorResult
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
        indicator.polarity = options.polarity or spec.polarity or Polarity.NEUTRAL
        indicator.value_kind = options.value_kind or spec.value_kind or _guess_kind(indicator.unit)
        indicator.level = AreaLevel(options.level) if options.level else levels[name].most_common(1)[0][0]
        indicator.description = spec.description or indicator.description or ""
        indicator.key = (spec.key or indicator.key or "")[:60]
        indicator.vintage = vintages.get(name)
        indicator.ranked_areas = spec.ranked_areas
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
            "lower": r["lower"],
            "upper": r["upper"],
        }
        for r in rows
    ]
    _bulk_insert(payload)
    db.session.expire(dataset)
    report.dataset = dataset
    report.imported = len(payload)
    report.suppressed = sum(1 for r in rows if r["suppressed"])
    report.indicators = list(indicators)


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
    "lower",
    "upper",
)


def _bulk_insert(payload: list[dict]) -> None:
    """Insert many values in the session's transaction: COPY on PostgreSQL (a full England IoD file is 262,752
    values; row-by-row executemany takes most of a minute), executemany elsewhere."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg":
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]  # checked out: never None
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
    if unit in ("rank", "decile"):
        return ValueKind.RANK
    return ValueKind.RATE


__all__ = ["ImportFailed", "ImportReport", "Options", "Polarity", "ValueKind", "import_file"]
