"""Bulk import of observations from CSV or XLSX: guess the column mapping, check every row, store (the file is read
into a table of cells by :mod:`submissions.spreadsheets`).

The same validation rules as the form and the API (:mod:`submissions.validation`) check each row. A file with any bad
row stores nothing unless the caller asks for the valid rows only; the bad rows can then be written out as CSV.
Rows whose reference is already stored for the organisation are skipped, so importing a file twice adds nothing.
Everything here flushes and never commits: the caller's one transaction stores the whole import or none of it.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from submissions import operations as submission_ops
from submissions.spreadsheets import STRAY_BYTES_MESSAGE, ImportFileError, Table, is_empty
from submissions.validation import FIELDS, FIELDS_BY_NAME, CleanObservation, Context, ValidationFailed, validate
from webapp.models import Organisation, Partnership, User
from webapp.operations import OperationError, record

log = logging.getLogger(__name__)


# Header spellings people use for each field, compared after lower-casing and squashing spaces/underscores.
HEADER_GUESSES: dict[str, tuple[str, ...]] = {
    "text": ("text", "observation", "comment", "comments", "description", "notes", "note", "details", "feedback",
             "what_you_have_seen", "free_text", "narrative", "summary", "what_we_heard", "what_we_saw",
             "what_happened", "what_did_you_see", "what_people_said", "story"),
    "kind": ("kind", "type", "need_or_asset", "need_asset", "asset_or_need", "need_or_strength"),
    "category": ("category", "theme", "topic", "issue", "subject", "category_of_need", "need_category"),
    "area": ("area", "ward", "lsoa", "area_code", "ward_code", "ward_name", "lsoa_code", "location", "neighbourhood",
             "ward_area", "area_ward", "ward_or_area", "area_or_ward", "where", "place"),
    "period": ("period", "date", "month", "when", "date_seen", "observed", "observed_on"),
    "people_affected": ("people_affected", "people", "number_of_people", "count", "number", "how_many"),
    "groups": ("groups", "groups_affected", "who", "client_group"),
    "trend": ("trend", "direction", "change"),
    "source": ("source", "how_we_know"),
    "confidence": ("confidence", "certainty"),
    "sharing_level": ("sharing_level", "sharing", "share_with", "visibility"),
    "consent_to_quote": ("consent_to_quote", "consent", "quote_consent", "can_quote"),
    "consent_to_quote_funders": ("consent_to_quote_funders", "funders_quote", "quote_funders", "funders_consent"),
    "external_ref": ("external_ref", "ref", "reference", "id", "case_id", "record_id", "our_ref", "your_reference"),
    "partnership": ("partnership",),
}  # fmt: skip
MAPPABLE = tuple(f.name for f in FIELDS)
# Fields an import may set for every row when the file has no column for them.
DEFAULTABLE = ("kind", "category", "sharing_level", "source", "confidence", "trend", "partnership")


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    message: str


@dataclass
class Preview:
    valid: list[tuple[int, CleanObservation]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    already_imported: list[int] = field(default_factory=list)
    bad_rows: dict[int, list[Any]] = field(default_factory=dict)

    @property
    def bad_row_count(self) -> int:
        return len(self.bad_rows)


@dataclass
class ImportResult:
    imported_ids: list[int]
    preview: Preview

    @property
    def imported(self) -> int:
        return len(self.imported_ids)


class ImportRejected(OperationError):
    """Some rows are bad and the caller did not ask for the valid rows only: nothing was stored."""

    def __init__(self, preview: Preview):
        self.preview = preview
        super().__init__(
            f"{preview.bad_row_count} row(s) have problems, so nothing was imported. Fix them, or import the "
            "valid rows only."
        )


def _norm(header: str) -> str:
    return re.sub(r"[\s_\-/?]+", "_", str(header).strip().lower()).strip("_")


# Mapping --------------------------------------------------------------------------------------------------------


# Words that name a field inside a longer header ("Date seen", "Category of need", "Number of people affected").
HEADER_WORDS: dict[str, frozenset[str]] = {
    "text": frozenset({"text", "observation", "observations", "comment", "comments", "description", "notes",
                       "details", "feedback", "narrative", "heard", "story"}),
    "category": frozenset({"category", "theme", "topic"}),
    "area": frozenset({"area", "ward", "lsoa", "neighbourhood", "location"}),
    "period": frozenset({"date", "month", "period", "when"}),
    "people_affected": frozenset({"people", "number", "count", "many"}),
    "trend": frozenset({"trend"}),
    "confidence": frozenset({"confidence"}),
    "external_ref": frozenset({"ref", "reference", "id"}),
}  # fmt: skip


def guess_mapping(headers: list[str]) -> dict[str, str]:
    """field name → header, guessed from the headers' names: exact names, labels and common spellings first; then a
    header whose words name exactly one field not matched yet ("Ward / area", "Category of need"). A header whose
    words name two fields is left for the person to match."""
    normalised = {_norm(h): h for h in headers if h}
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for f in FIELDS:
        for candidate in (f.name, _norm(f.label), *HEADER_GUESSES.get(f.name, ())):
            header = normalised.get(_norm(candidate))
            if header is not None and header not in used:
                mapping[f.name] = header
                used.add(header)
                break
    for header in headers:
        if not header or header in used:
            continue
        words = set(_norm(header).split("_"))
        named = [name for name, keys in HEADER_WORDS.items() if words & keys]
        if len(named) == 1 and named[0] not in mapping:
            mapping[named[0]] = header
            used.add(header)
    return mapping


def template_rows(categories: list[str], partnerships: list[str], area: str, today: date) -> list[list[str]]:
    """A file to fill in: the header row (the fields' labels, which :func:`guess_mapping` matches) and one example
    row that passes the checks as it is (the caller's category, area and partnership)."""
    example = {
        "kind": "need", "category": categories[0] if categories else "",
        "text": "Example: families at the community centre say food parcels ran out by Wednesday. Replace this row.",
        "area": area, "period": f"{today:%Y-%m}", "people_affected": "12", "groups": "", "trend": "worse",
        "source": "frontline_contact", "confidence": "medium", "sharing_level": "partnership",
        "consent_to_quote": "no", "consent_to_quote_funders": "no", "external_ref": "EXAMPLE-1",
        "partnership": partnerships[0] if len(partnerships) > 1 else "",
    }  # fmt: skip
    fields = [f for f in FIELDS if f.name != "partnership" or len(partnerships) > 1]
    return [[f.label for f in fields], [example.get(f.name, "") for f in fields]]


def template_xlsx(rows: list[list[str]], choices: dict[str, list[str]]) -> bytes:
    """The template as a workbook: the rows to fill in, and a sheet with what each column accepts."""
    from openpyxl import Workbook  # noqa: PLC0415 - heavy: loaded only when an XLSX template is made
    from openpyxl.styles import Font  # noqa: PLC0415 - heavy: as above

    book = Workbook()
    sheet = book.active
    sheet.title = "Observations"
    for row in rows:
        sheet.append(row)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    help_sheet = book.create_sheet("What each column takes")
    help_sheet.append(["Column", "Required", "What to put in it", "Allowed values"])
    for cell in help_sheet[1]:
        cell.font = Font(bold=True)
    for f in FIELDS:
        allowed = choices.get(f.name) or list(f.choices or ())
        help_sheet.append([f.label, "yes" if f.required else "no", f.description, ", ".join(allowed)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def check_mapping(headers: list[str], mapping: Mapping[str, str | None], defaults: Mapping[str, str]) -> dict:
    """The mapping with unknown headers refused and required fields covered by a column or a default."""
    clean = {}
    for name, header in mapping.items():
        if not header:
            continue
        if name not in FIELDS_BY_NAME:
            raise ImportFileError(f"Unknown field {name!r}.", name)
        if header not in headers:
            raise ImportFileError(f"The file has no column {header!r}.", name)
        clean[name] = header
    for f in FIELDS:
        if f.required and f.name not in clean and not defaults.get(f.name):
            hint = " or choose one value for every row" if f.name in DEFAULTABLE else ""
            raise ImportFileError(f"Choose the column that holds '{f.label}'{hint}.", f.name)
    return clean


# Checking and storing -------------------------------------------------------------------------------------------


def check_rows(
    table: Table,
    mapping: Mapping[str, str],
    defaults: Mapping[str, str],
    context: Context,
) -> Preview:
    """Validate every row with the shared rules; list every bad field of every row by row number and column."""
    organisation = context.organisation
    stored_refs = submission_ops.existing_refs(organisation.id) if organisation else set()
    seen_refs: dict[str, int] = {}
    index = {h: i for i, h in enumerate(table.headers) if h}
    column_of = {name: header for name, header in mapping.items()}
    preview = Preview()
    for row_number, cells in table.rows:
        if row_number in table.bad_bytes:
            for column in table.bad_bytes[row_number]:
                preview.errors.append(RowError(row_number, column, STRAY_BYTES_MESSAGE))
            preview.bad_rows[row_number] = cells
            continue
        data: dict[str, Any] = {k: v for k, v in defaults.items() if v}
        for name, header in mapping.items():
            value = cells[index[header]]
            if not is_empty(value) or name not in data:
                data[name] = value
        try:
            clean = validate(data, context)
        except ValidationFailed as failed:
            for name, message in failed.errors.items():
                preview.errors.append(RowError(row_number, column_of.get(name, FIELDS_BY_NAME[name].label), message))
            preview.bad_rows[row_number] = cells
            continue
        ref = clean.external_ref
        if ref is not None:
            if ref in stored_refs:
                preview.already_imported.append(row_number)
                continue
            if ref in seen_refs:
                message = f"The reference {ref!r} repeats row {seen_refs[ref]}."
                preview.errors.append(RowError(row_number, column_of.get("external_ref", "reference"), message))
                preview.bad_rows[row_number] = cells
                continue
            seen_refs[ref] = row_number
        preview.valid.append((row_number, clean))
    return preview


def import_table(
    table: Table,
    mapping: Mapping[str, str | None],
    organisation: Organisation,
    actor: User | None,
    *,
    defaults: Mapping[str, str] | None = None,
    valid_rows_only: bool = False,
    partnership: Partnership | None = None,
    via: str = "import",
) -> ImportResult:
    """Check every row, then store the valid ones: all or nothing unless ``valid_rows_only``.

    Raises ImportRejected (nothing stored) when a row is bad and ``valid_rows_only`` is false.
    """
    defaults = dict(defaults or {})
    clean_mapping = check_mapping(table.headers, mapping, defaults)
    context = submission_ops.context_for(organisation, partnership)
    preview = check_rows(table, clean_mapping, defaults, context)
    if preview.errors and not valid_rows_only:
        raise ImportRejected(preview)
    ids = submission_ops.store_clean_rows(preview.valid, organisation, actor)
    record(
        "observation.import",
        "organisation",
        organisation.id,
        actor,
        via=via,
        imported=len(ids),
        skipped=preview.bad_row_count,
        already_imported=len(preview.already_imported),
    )
    log.info("imported %s observations for organisation %s (%s rows skipped)", len(ids), organisation.id,
             preview.bad_row_count)  # fmt: skip
    return ImportResult(ids, preview)


def skipped_rows_csv(table: Table, preview: Preview) -> str:
    """The bad rows as CSV, with their row number and reasons first, ready to fix and import again."""
    reasons: dict[int, list[str]] = {}
    for e in preview.errors:
        reasons.setdefault(e.row, []).append(f"{e.column}: {e.message}")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["row", "problems", *table.headers])
    for row_number, cells in sorted(preview.bad_rows.items()):
        values = ["" if c is None else c for c in cells]
        writer.writerow([row_number, submission_ops.neutralise("; ".join(reasons.get(row_number, []))),
                         *(submission_ops.neutralise(v) for v in values)])  # fmt: skip
    return out.getvalue()
