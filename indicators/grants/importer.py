"""Import grants published in the 360Giving Data Standard: its flattened CSV/XLSX layout and its JSON package.

Every grant is checked before anything is stored, and the file is stored whole or not at all (one transaction, the
caller's commit): a single bad row rejects the file with a report naming each row, field and problem.

1. **Read.** CSV and XLSX go through the observation importer's bounded reader (:func:`submissions.importer.
   read_table`: size, row, cell and XLSX-bomb limits); column titles are the standard's flattened ones ("Amount
   Awarded", "Recipient Org:Identifier", "Beneficiary Location:Geographic Code", or with an index,
   "Beneficiary Location:0:Geographic Code"), read from the vendored schema's titles and ``rollUp`` lists, and cells
   are typed as flatten-tool does (a number column's text that is not a number stays text, so the schema reports
   it). JSON is a package ``{"grants": [...]}``.
2. **Validate** each grant against the vendored ``360-giving-schema.json`` (JSON Schema 2020-12, jsonschema), and
   the package's own fields against ``360-giving-package-schema.json``. Then commintel's own rules: amounts in GBP
   and not negative, award dates that exist, identifiers not blank and not repeated, and every beneficiary location
   code an ONS ward, LSOA or local authority code of commintel's geography (or, with no location code, a recipient
   postcode in the postcode table).
3. **Store** the file, its grants and where each grant's money goes (a grant naming several locations is split
   equally between them).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import select

from indicators.grants.models import Grant, GrantFile, GrantPlace
from indicators.grants.standard import (
    GrantFileError,
    Problem,
    code_types,
    grant_validator,
    grants_from_json,
    grants_from_table,
    layout_of,
    short_message,
    title_of,
)
from webapp import geography
from webapp.extensions import db
from webapp.models import Area, AreaLevel, Partnership, User
from webapp.operations import OperationError

log = logging.getLogger(__name__)

MAX_PROBLEMS_SHOWN = 200
CURRENCY = "GBP"
# The standard's geographic code types (codelists/geoCodeType.csv) commintel can place, and the level each names.
PLACEABLE_TYPES = {
    "WD": AreaLevel.WARD,
    "LSOA": AreaLevel.LSOA,
    "UA": AreaLevel.LAD,
    "NMD": AreaLevel.LAD,
    "MD": AreaLevel.LAD,
    "LONB": AreaLevel.LAD,
}
ONS_LEVELS = (AreaLevel.WARD, AreaLevel.LSOA, AreaLevel.LAD)


@dataclass
class Report:
    filename: str
    layout: str
    grants: int = 0
    problems: list[Problem] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    stored: GrantFile | None = None
    outside: int = 0  # grants placed only outside the partnership's area (stored, not set beside its wards)

    @property
    def bad_rows(self) -> int:
        return len({p.row for p in self.problems})

    @property
    def shown_problems(self) -> list[Problem]:
        return self.problems[:MAX_PROBLEMS_SHOWN]


class GrantImportRejected(OperationError):
    """At least one grant failed: nothing was stored. ``report`` lists every problem."""

    def __init__(self, report: Report):
        n = report.bad_rows
        super().__init__(
            f"Nothing was stored: {n} of {report.grants} grants {'has' if n == 1 else 'have'} problems. Correct them "
            "and import the whole file again.",
            "file",
        )
        self.report = report


REQUIRED = ("id", "title", "description", "currency", "amountAwarded", "awardDate", "fundingOrganization")


def _shown(value: Any) -> str:
    text = str(value)
    return "“" + (text if len(text) <= 60 else text[:57] + "...") + "”"


def _schema_problems(label: str, grant: dict) -> list[Problem]:
    problems = []
    missing = [k for k in REQUIRED if k not in grant]
    recipients = [k for k in ("recipientOrganization", "recipientIndividual") if k in grant]
    for k in missing:
        problems.append(Problem(label, title_of([k]), "missing: the standard requires it"))
    if not recipients:
        problems.append(Problem(label, "Recipient Org:Identifier", "missing: a grant names its recipient"))
    elif len(recipients) == 2:
        problems.append(Problem(label, "Recipient Ind", "a grant goes to an organisation or an individual, not both"))
    for error in grant_validator().iter_errors(grant):
        if not error.absolute_path and error.validator == "oneOf":
            continue  # the required fields, reported above by name
        path = list(error.absolute_path)
        if error.validator == "required" and isinstance(error.instance, dict):
            # One problem per missing field, named in full ("Recipient Org:Identifier").
            for name in (r for r in error.validator_value if r not in error.instance):
                problems.append(Problem(label, title_of([*path, name]), "missing: the standard requires it"))
            continue
        problems.append(Problem(label, title_of(path), _problem(error)))
    return problems


def _problem(error) -> str:
    value = error.instance
    path = list(error.absolute_path)
    if error.validator == "type":
        expected = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        if "number" in expected and isinstance(value, str):
            return f"{_shown(value)} is text, not a number (write 1500.50, without £ or commas)"
        return f"{_shown(value)} should be {' or '.join(expected)}"
    if path and path[0] == "awardDate":
        return f"{_shown(value)} is not a date written YYYY-MM-DD (or a full date and time)"
    if error.validator == "enum" and path and path[0] == "currency":
        return f"{_shown(value)} is not an ISO 4217 currency code"
    if error.validator == "enum":
        return f"{_shown(value)} is not one of the values the standard allows"
    if error.validator == "minItems":
        return "missing"
    return short_message(error.message)


@dataclass
class Placement:
    area: Area
    placed_by: str


def _award_date(value: str) -> date:
    return date.fromisoformat(value[:10])


def _pence(amount: float | int) -> int:
    return int((Decimal(str(amount)) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _list(grant: Any, key: str) -> list:
    """``grant[key]`` when the grant is an object and that is a list (the schema reports anything else)."""
    value = grant.get(key) if isinstance(grant, dict) else None
    return value if isinstance(value, list) else []


def _codes_in(grants: list[tuple[str, dict]]) -> set[str]:
    codes = set()
    for _, g in grants:
        for loc in _list(g, "beneficiaryLocation"):
            if isinstance(loc, dict) and isinstance(loc.get("geoCode"), str) and loc["geoCode"].strip():
                codes.add(loc["geoCode"].strip().upper())
    return codes


def check(grants: list[tuple[str, dict]], partnership: Partnership) -> tuple[list[Problem], dict[str, list]]:
    """Every problem of every grant (schema and commintel's rules), and where each good grant is placed."""
    problems: list[Problem] = []
    codes = _codes_in(grants)
    areas: dict[str, Area] = {}
    for chunk in [sorted(codes)[i : i + 500] for i in range(0, len(codes), 500)]:
        areas |= {a.code.upper(): a for a in db.session.scalars(select(Area).where(Area.code.in_(chunk)))}
    stored = dict(
        db.session.execute(
            select(Grant.identifier, GrantFile.filename).join(GrantFile).where(Grant.partnership_id == partnership.id)
        )
        .tuples()
        .all()
    )
    seen: dict[str, str] = {}
    postcodes_loaded: bool | None = None
    placements: dict[str, list] = {}
    for label, grant in grants:
        if not isinstance(grant, dict):
            problems.append(Problem(label, "Grant", "each grant is an object of the standard's fields"))
            continue
        found = _schema_problems(label, grant)
        bad_fields = {p.field for p in found}
        identifier = grant.get("id")
        if isinstance(identifier, str):
            if not identifier.strip():
                found.append(Problem(label, "Identifier", "missing: the identifier is blank"))
            elif identifier in seen:
                found.append(
                    Problem(
                        label,
                        "Identifier",
                        f"{_shown(identifier)} is also the identifier on {seen[identifier]}: each grant has its own",
                    )
                )
            elif identifier in stored:
                found.append(
                    Problem(
                        label,
                        "Identifier",
                        f"{_shown(identifier)} was imported already (file "
                        f"{_shown(stored[identifier])}): a grant is stored once",
                    )
                )
            else:
                seen[identifier] = label
        for org_key, title in (("fundingOrganization", "Funding Org"), ("recipientOrganization", "Recipient Org")):
            orgs = grant.get(org_key)
            if isinstance(orgs, list) and orgs and isinstance(orgs[0], dict):
                for sub, sub_title in (("id", "Identifier"), ("name", "Name")):
                    if isinstance(orgs[0].get(sub), str) and not orgs[0][sub].strip():
                        found.append(Problem(label, f"{title}:{sub_title}", "missing: it is blank"))
        if "Currency" not in bad_fields and isinstance(grant.get("currency"), str) and grant["currency"] != CURRENCY:
            found.append(
                Problem(
                    label,
                    "Currency",
                    f"{_shown(grant['currency'])}: only grants in GBP are set beside need (amounts are not converted)",
                )
            )
        amount = grant.get("amountAwarded")
        if "Amount Awarded" not in bad_fields and isinstance(amount, int | float) and amount < 0:
            found.append(Problem(label, "Amount Awarded", f"{_shown(amount)} is negative"))
        if "Award Date" not in bad_fields and isinstance(grant.get("awardDate"), str):
            try:
                _award_date(grant["awardDate"])
            except ValueError:
                found.append(Problem(label, "Award Date", f"{_shown(grant['awardDate'])} is not a date that exists"))
        places, place_problems, postcodes_loaded = _place(label, grant, areas, postcodes_loaded)
        found += place_problems
        problems += found
        if not found:
            placements[label] = places
    return problems, placements


def _place(label: str, grant: dict, areas: dict[str, Area], postcodes_loaded: bool | None):
    """Where a grant's money goes: each beneficiary location code of commintel's geography, else the recipient
    organisation's postcode through the postcode table."""
    problems, places = [], []
    locations = [loc for loc in _list(grant, "beneficiaryLocation") if isinstance(loc, dict)]
    coded = [loc for loc in locations if isinstance(loc.get("geoCode"), str) and loc["geoCode"].strip()]
    field_code, field_type = "Beneficiary Location:Geographic Code", "Beneficiary Location:Geographic Code Type"
    for loc in coded:
        code = loc["geoCode"].strip().upper()
        kind = code_type.strip().upper() if isinstance(code_type := loc.get("geoCodeType"), str) else ""
        if kind and kind not in code_types():
            problems.append(Problem(label, field_type, f"{_shown(kind)} is not a code type of the standard's list"))
            continue
        if kind and kind not in PLACEABLE_TYPES:
            problems.append(
                Problem(
                    label,
                    field_type,
                    f"{_shown(kind)}: commintel places grants by ward (WD), LSOA "
                    "or local authority (UA, NMD, MD, LONB) codes",
                )
            )
            continue
        area = areas.get(code)
        if area is None or area.level not in ONS_LEVELS:
            problems.append(
                Problem(
                    label,
                    field_code,
                    f"{_shown(code)} is not a ward, LSOA or local authority code of commintel's geography (ONS codes)",
                )
            )
            continue
        if kind and PLACEABLE_TYPES[kind] is not area.level:
            problems.append(
                Problem(
                    label,
                    field_type,
                    f"{_shown(kind)} does not match {code}, which is a {area.level.label.lower()} code",
                )
            )
            continue
        places.append(Placement(area, "location code"))
    if coded:
        return places, problems, postcodes_loaded
    orgs = grant.get("recipientOrganization")
    postcode = orgs[0].get("postalCode") if isinstance(orgs, list) and orgs and isinstance(orgs[0], dict) else None
    if isinstance(postcode, str) and postcode.strip():
        if postcodes_loaded is None:
            postcodes_loaded = geography.postcodes_loaded()
        found = geography.find_postcode(postcode) if postcodes_loaded else None
        if found is not None:
            return [Placement(found.lsoa, "recipient postcode")], problems, postcodes_loaded
        why = "is not in the postcode table" if postcodes_loaded else "cannot be looked up: no postcodes are loaded"
        problems.append(
            Problem(
                label,
                "Recipient Org:Postal Code",
                f"{_shown(postcode)} {why}, and the grant has no beneficiary location code",
            )
        )
    else:
        problems.append(
            Problem(
                label,
                field_code,
                "missing: a grant is placed by its beneficiary location code (or the recipient's postcode)",
            )
        )
    return places, problems, postcodes_loaded


def ward_of(area: Area) -> Area | None:
    """The ward an area is in: itself, an LSOA's ward; None for a local authority (not attributed to wards)."""
    if area.level is AreaLevel.WARD:
        return area
    if area.level is AreaLevel.LSOA and area.parent is not None and area.parent.level is AreaLevel.WARD:
        return area.parent
    return None


# Storing ------------------------------------------------------------------------------------------------------------


def import_grants(data: bytes, filename: str, partnership: Partnership, actor: User | None) -> Report:
    """Check every grant of a 360Giving file and store them all for ``partnership``, or raise
    :class:`GrantImportRejected` (nothing stored) with the row-level report. Flushes; the caller commits."""
    layout = layout_of(filename)
    if not data or not data.strip():
        raise GrantFileError("The file is empty.", "file")
    report = Report(filename=Path(filename).name[:300], layout=layout)
    if layout == "json":
        grants, report.problems = grants_from_json(data)
    else:
        grants, report.ignored_columns = grants_from_table(data, filename)
    report.grants = len(grants)
    problems, placements = check(grants, partnership)
    report.problems += problems
    if report.problems:
        log.info("grants file refused: %s problems in %s grants", len(report.problems), report.grants)
        raise GrantImportRejected(report)
    covered = _covered_area_ids(partnership)
    stored = GrantFile(
        partnership_id=partnership.id,
        filename=report.filename,
        layout=layout,
        imported_by_id=actor.id if actor else None,
        grant_count=len(grants),
    )
    db.session.add(stored)
    for label, g in grants:
        organisation = (g.get("recipientOrganization") or [None])[0]
        funder = g["fundingOrganization"][0]
        grant = Grant(
            partnership_id=partnership.id,
            identifier=g["id"].strip()[:200],
            title=g["title"].strip()[:300],
            amount_pence=_pence(g["amountAwarded"]),
            currency=g["currency"],
            award_date=_award_date(g["awardDate"]),
            funder_identifier=funder["id"].strip()[:200],
            funder_name=funder["name"].strip()[:300],
            # A grant to an individual keeps nothing of the person.
            recipient_identifier=organisation["id"].strip()[:200] if organisation else "",
            recipient_name=organisation["name"].strip()[:300] if organisation else "an individual",
        )
        stored.grants.append(grant)
        places = placements[label]
        share, rest = divmod(grant.amount_pence, len(places))
        for i, place in enumerate(places):
            ward = ward_of(place.area)
            grant.places.append(
                GrantPlace(
                    partnership_id=partnership.id,
                    area_id=place.area.id,
                    ward_id=ward.id if ward else None,
                    amount_pence=share + (1 if i < rest else 0),
                    placed_by=place.placed_by,
                )
            )
        if not any(p.area.id in covered or ((w := ward_of(p.area)) is not None and w.id in covered) for p in places):
            report.outside += 1
    db.session.flush()
    report.stored = stored
    log.info("grants file stored: %s grants for partnership %s", len(grants), partnership.id)
    return report


def _covered_area_ids(partnership: Partnership) -> set[int]:
    ids = {a.id for a in partnership.areas}
    lads = [a.id for a in partnership.areas if a.level is AreaLevel.LAD]
    if lads:
        ids |= set(db.session.scalars(select(Area.id).where(Area.parent_id.in_(lads), Area.level == AreaLevel.WARD)))
    return ids


def remove_file(grant_file: GrantFile) -> None:
    """Delete an imported file and its grants (to import a corrected one). Flushes; the caller commits."""
    db.session.delete(grant_file)
    db.session.flush()


def amount_text(pence: int | float | None) -> str:
    """£1,234 (whole pounds; pence below £100)."""
    if pence is None:
        return "—"
    pounds = Decimal(pence) / 100
    if pounds == 0:
        return "£0"
    try:
        return f"£{pounds:,.0f}" if abs(pounds) >= 100 else f"£{pounds:,.2f}"
    except InvalidOperation:  # pragma: no cover - Decimal of an int or float always formats
        return "—"
