"""The one set of rules for an observation's fields, used by the web form, the bulk importer, the API and the CLI.

:data:`FIELDS` declares every field once (name, label, type, choices, limits); :func:`validate` checks a mapping of
raw values (strings from a form or a spreadsheet, typed values from JSON) against it and returns a
:class:`CleanObservation` or raises :class:`ValidationFailed` with one message per bad field, in users' words. The
OpenAPI document (:func:`json_schema`) is generated from the same declarations, so the three ways in cannot drift.
One module (over 500 lines) because it is that one declaration: the fields and their checks are read together.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select

from submissions.models import (
    GROUPS,
    REF_MAX,
    TEXT_MAX,
    TEXT_MIN,
    Category,
    Confidence,
    ObservationKind,
    PeriodPrecision,
    SharingLevel,
    Source,
    Trend,
)
from webapp import geography
from webapp.disclosure import Audience
from webapp.extensions import db
from webapp.models import Area, AreaLevel, Organisation, Partnership, partnership_members
from webapp.operations import OperationError

MAX_PEOPLE = 10_000_000
AREA_LEVELS = (AreaLevel.WARD, AreaLevel.LSOA)


@dataclass(frozen=True)
class Field:
    """One field of an observation as every way in accepts it."""

    name: str
    label: str
    type: str  # string | text | enum | period | integer | boolean | list
    description: str
    required: bool = False
    choices: tuple[str, ...] = ()
    min_length: int | None = None
    max_length: int | None = None


def _values(enum_cls) -> tuple[str, ...]:
    return tuple(m.value for m in enum_cls)


FIELDS: tuple[Field, ...] = (
    Field("kind", "Need or asset", "enum", "Is this a need people have, or an asset that helps?", True,
          _values(ObservationKind)),
    Field("category", "Category", "string",
          "The category's short name (slug) or name, e.g. 'food' or 'Money and debt'.", True),
    Field("text", "What you have seen", "text",
          f"In your own words, {TEXT_MIN} to {TEXT_MAX:,} characters. Avoid names and contact details.", True,
          min_length=TEXT_MIN, max_length=TEXT_MAX),
    Field("area", "Area", "string",
          "A neighbourhood (e.g. Barton Hill), a ward or LSOA by name or ONS code, or a postcode where the postcode "
          "directory is loaded (kept only as the LSOA it lies in). Leave empty for the partnership's whole area."),
    Field("period", "When", "period",
          "The day (YYYY-MM-DD) or month (YYYY-MM) this describes; not in the future. Empty means today."),
    Field("people_affected", "People affected", "integer", "Roughly how many people, as a whole number (optional)."),
    Field("groups", "Groups affected", "list", "Any of the listed groups (optional).", choices=tuple(GROUPS)),
    Field("trend", "Trend", "enum", "Is it new, getting worse, the same or better?", choices=_values(Trend)),
    Field("source", "Source", "enum", "How you know.", choices=_values(Source)),
    Field("confidence", "Confidence", "enum", "How sure you are.", choices=_values(Confidence)),
    Field("sharing_level", "Who may see it", "enum",
          "org_only: your organisation only. partnership: the partnership's members and convenors read it (personal "
          "details removed). funders_aggregate: also counted in what the partnership's funders see (counts only, "
          "never the text). public_aggregate: also counted in what the public sees (counts only).",
          choices=_values(SharingLevel)),
    Field("consent_to_quote", "Quote in the partnership's briefings", "boolean",
          "The people concerned agreed to be quoted anonymously: the partnership's members and convenors may read "
          "the quote (personal details removed) in its briefings and theme pages."),
    Field("consent_to_quote_funders", "Also quote in the funders' edition", "boolean",
          "The people concerned also agreed that the partnership's funders may read the quote (funders' edition of "
          "the briefing). Needs consent_to_quote and a sharing level that includes funders."),
    Field("external_ref", "Your reference", "string",
          "Your own reference for this row; importing it again does not create a duplicate.", max_length=REF_MAX),
    Field("partnership", "Partnership", "string",
          "Short name of the partnership to share with; needed only when your organisation is in several."),
)  # fmt: skip
FIELDS_BY_NAME = {f.name: f for f in FIELDS}


class ValidationFailed(OperationError):
    """One or more fields are not valid. ``errors`` maps field name → message."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        first_field = next(iter(errors))
        super().__init__(errors[first_field], first_field)


@dataclass
class CleanObservation:
    """Valid values, ready to store."""

    kind: ObservationKind
    category_id: int
    text: str
    area_id: int | None
    period_start: date
    period_precision: PeriodPrecision
    people_affected: int | None
    groups: list[str]
    trend: Trend
    source: Source
    confidence: Confidence
    sharing_level: SharingLevel
    consent_to_quote: bool
    consent_to_quote_funders: bool
    external_ref: str | None
    partnership_id: int | None

    def as_columns(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Context:
    """Who is submitting, and caches so that a 10,000-row import asks the database once per distinct value.

    ``organisation`` is None for residents; they then submit to ``partnership`` (required for them).
    """

    organisation: Organisation | None = None
    partnership: Partnership | None = None
    default_source: Source = Source.FRONTLINE_CONTACT
    today: date = field(default_factory=lambda: datetime.now(UTC).date())
    _categories: dict[str, int] | None = None
    _areas: dict[str, Area | None | str] = field(default_factory=dict)
    _partnerships: list[Partnership] | None = None
    _inside: dict[tuple[int, int], bool] = field(default_factory=dict)
    _postcodes_loaded: bool | None = None

    def categories(self) -> dict[str, int]:
        if self._categories is None:
            self._categories = {}
            for cat in db.session.scalars(select(Category).where(Category.active.is_(True))):
                self._categories[_norm(cat.slug)] = cat.id
                self._categories[_norm(cat.name)] = cat.id
        return self._categories

    def area(self, value: str) -> Area | None | str:
        """The area for a postcode (its LSOA), a code, a ward or LSOA name, or a neighbourhood in the gazetteer (its
        ward); None if unknown; "ambiguous" if a name matches several areas; "unknown postcode" or "no postcodes"
        (none are loaded) for a postcode not found."""
        key = value.strip().lower()
        if key not in self._areas and geography.normalise_postcode(value) is not None:
            # A postcode is stored as its LSOA (never as itself); an unknown one says why it is unknown.
            place = geography.find_postcode(value)
            if place is not None:
                self._areas[key] = place.lsoa
            else:
                self._areas[key] = "unknown postcode" if self.postcodes_loaded() else "no postcodes"
        if key not in self._areas:
            found: Area | str | None = db.session.scalar(
                select(Area).where(func.upper(Area.code) == value.strip().upper(), Area.level.in_(AREA_LEVELS))
            )
            if found is None:
                named = list(
                    db.session.scalars(
                        select(Area)
                        .where(func.lower(Area.name) == key, Area.level.in_(AREA_LEVELS), Area.current.is_(True))
                        .limit(2)
                    )
                )
                found = named[0] if len(named) == 1 else ("ambiguous" if named else None)
            if found is None and (hood := geography.find_neighbourhood(value)) is not None:
                found = hood.ward
            self._areas[key] = found
        return self._areas[key]

    def postcodes_loaded(self) -> bool:
        if self._postcodes_loaded is None:
            self._postcodes_loaded = geography.postcodes_loaded()
        return self._postcodes_loaded

    def partnerships(self) -> list[Partnership]:
        """The partnerships this submitter may share with."""
        if self._partnerships is None:
            if self.organisation is None:
                self._partnerships = [self.partnership] if self.partnership else []
            else:
                self._partnerships = list(
                    db.session.scalars(
                        select(Partnership)
                        .join(partnership_members, partnership_members.c.partnership_id == Partnership.id)
                        .where(partnership_members.c.organisation_id == self.organisation.id)
                        .order_by(Partnership.name)
                    )
                )
        return self._partnerships

    def inside(self, area: Area, partnership: Partnership) -> bool:
        """Whether ``area`` lies within the partnership's areas (itself or an ancestor is one of them)."""
        key = (area.id, partnership.id)
        if key not in self._inside:
            covered = {a.id for a in partnership.areas}
            node: Area | None = area
            seen = 0
            inside = False
            while node is not None and seen < 6:
                if node.id in covered:
                    inside = True
                    break
                node, seen = node.parent, seen + 1
            self._inside[key] = inside or not covered  # a partnership with no areas set covers anywhere
        return self._inside[key]


def _norm(value: str) -> str:
    return re.sub(r"[\s_\-]+", "_", str(value).strip().lower())


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _enum(enum_cls, value: Any, label: str, default=None):
    if _blank(value):
        if default is None:
            raise ValueError(f"Choose the {label.lower()}.")
        return default
    key = _norm(value)
    for member in enum_cls:
        if key in (_norm(member.value), _norm(member.label)):
            return member
    options = ", ".join(m.value for m in enum_cls)
    raise ValueError(f"{label}: {str(value)[:40]!r} is not one of {options}.")


_MONTHS = {m.lower(): i for i, m in enumerate(
    ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November",
     "December"], start=1)}  # fmt: skip


def parse_period(value: Any, today: date) -> tuple[date, PeriodPrecision]:
    """A day or a month, from a date, ISO text, UK day/month/year, or 'March 2025'. Never in the future."""
    if _blank(value):
        return today, PeriodPrecision.DAY
    if isinstance(value, datetime):
        day, precision = value.date(), PeriodPrecision.DAY
    elif isinstance(value, date):
        day, precision = value, PeriodPrecision.DAY
    else:
        text = str(value).strip()
        day, precision = _parse_period_text(text)
    if day > today:
        raise ValueError("The date is in the future. Give the day or month this describes, up to today.")
    if day.year < 1990:
        raise ValueError("The date is too long ago (before 1990).")
    return day, precision


def _parse_period_text(text: str) -> tuple[date, PeriodPrecision]:
    bad = f"{text[:40]!r} is not a date. Use YYYY-MM-DD for a day or YYYY-MM for a month."
    try:
        if m := re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ][\d:.]+Z?)?", text):
            return date(int(m[1]), int(m[2]), int(m[3])), PeriodPrecision.DAY
        if m := re.fullmatch(r"(\d{1,2})[/.](\d{1,2})[/.](\d{4})", text):
            return date(int(m[3]), int(m[2]), int(m[1])), PeriodPrecision.DAY
        if m := re.fullmatch(r"(\d{4})-(\d{1,2})", text):
            return date(int(m[1]), int(m[2]), 1), PeriodPrecision.MONTH
        if m := re.fullmatch(r"(\d{1,2})/(\d{4})", text):
            return date(int(m[2]), int(m[1]), 1), PeriodPrecision.MONTH
        if m := re.fullmatch(r"([A-Za-z]+)\s+(\d{4})", text):
            name = m[1].lower()
            month = next((n for full, n in _MONTHS.items() if full.startswith(name) and len(name) >= 3), None)
            if month:
                return date(int(m[2]), month, 1), PeriodPrecision.MONTH
    except ValueError:
        raise ValueError(bad) from None
    raise ValueError(bad)


def parse_count(value: Any) -> int | None:
    if _blank(value):
        return None
    if isinstance(value, bool):
        raise ValueError("People affected must be a whole number.")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("People affected must be a whole number.")
        number = int(value)
    elif isinstance(value, int):
        number = value
    else:
        text = str(value).strip().replace(",", "")
        if not re.fullmatch(r"[+-]?\d+(\.0+)?", text):
            raise ValueError(f"People affected must be a whole number, not {str(value)[:20]!r}.")
        number = int(text.split(".")[0])
    if number < 0:
        raise ValueError("People affected cannot be negative.")
    if number > MAX_PEOPLE:
        raise ValueError(f"People affected must be at most {MAX_PEOPLE:,}.")
    return number


def parse_groups(value: Any) -> list[str]:
    if _blank(value):
        return []
    items = value if isinstance(value, list | tuple) else re.split(r"[;,|]", str(value))
    by_key = {_norm(slug): slug for slug in GROUPS} | {_norm(label): slug for slug, label in GROUPS.items()}
    chosen: list[str] = []
    unknown = []
    for item in items:
        if _blank(item):
            continue
        slug = by_key.get(_norm(item))
        if slug is None:
            unknown.append(str(item).strip()[:30])
        elif slug not in chosen:
            chosen.append(slug)
    if unknown:
        raise ValueError(f"Unknown group {unknown[0]!r}; use any of: {', '.join(GROUPS)}.")
    return chosen


def parse_bool(value: Any, label: str = "Consent to quote") -> bool:
    if _blank(value):
        return False
    if isinstance(value, bool):
        return value
    key = str(value).strip().lower()
    if key in {"1", "y", "yes", "true", "on"}:
        return True
    if key in {"0", "n", "no", "false", "off"}:
        return False
    raise ValueError(f"{label} must be yes or no, not {str(value)[:20]!r}.")


def _text(value: Any) -> str:
    if _blank(value):
        raise ValueError(f"Describe what you have seen ({TEXT_MIN} to {TEXT_MAX:,} characters).")
    # NUL cannot be stored in PostgreSQL text and never belongs in prose.
    text = str(value).replace("\x00", "").replace("\r\n", "\n").strip()
    if len(text) < TEXT_MIN:
        raise ValueError(f"The text is too short: write at least {TEXT_MIN} characters.")
    if len(text) > TEXT_MAX:
        raise ValueError(f"The text is too long: {len(text):,} characters; the most is {TEXT_MAX:,}.")
    return text


def validate(data: Mapping[str, Any], context: Context) -> CleanObservation:
    """Check every field of ``data``; return clean values or raise ValidationFailed naming every bad field."""
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}

    def check(name: str, fn):
        try:
            clean[name] = fn(data.get(name))
        except ValueError as exc:
            errors[name] = str(exc)

    check("kind", lambda v: _enum(ObservationKind, v, "Need or asset"))
    check("category", lambda v: _category(v, context))
    check("text", _text)
    check("period", lambda v: parse_period(v, context.today))
    check("people_affected", parse_count)
    check("groups", parse_groups)
    check("trend", lambda v: _enum(Trend, v, "Trend", Trend.UNKNOWN))
    check("source", lambda v: _enum(Source, v, "Source", context.default_source))
    check("confidence", lambda v: _enum(Confidence, v, "Confidence", Confidence.MEDIUM))
    if context.organisation is None:
        # Residents' observations are always shared with the partnership (after moderation and redaction).
        check("sharing_level", lambda v: SharingLevel.PARTNERSHIP)
    else:
        check("sharing_level", lambda v: _enum(SharingLevel, v, "Who may see it", SharingLevel.PARTNERSHIP))
    check("consent_to_quote", parse_bool)
    check("consent_to_quote_funders", lambda v: parse_bool(v, "Also quote in the funders' edition"))
    if clean.get("consent_to_quote_funders") and "consent_to_quote_funders" not in errors:
        level = clean.get("sharing_level")
        if not clean.get("consent_to_quote"):
            errors["consent_to_quote_funders"] = (
                "Funders can read a quote only if it may be quoted in the partnership's briefings too: tick both, "
                "or neither."
            )
        elif level is not None and level not in Audience.FUNDERS.counted_levels:
            errors["consent_to_quote_funders"] = (
                "Funders can read a quote only when 'Who may see it' includes funders (funders or the public as "
                "counts)."
            )
    check("external_ref", _ref)
    check("partnership", lambda v: _partnership(v, context))
    check("area", lambda v: _area(v, context, clean.get("partnership")))
    if errors:
        raise ValidationFailed(errors)
    period_start, precision = clean["period"]
    partnership = clean["partnership"]
    return CleanObservation(
        kind=clean["kind"],
        category_id=clean["category"],
        text=clean["text"],
        area_id=clean["area"].id if clean["area"] else None,
        period_start=period_start,
        period_precision=precision,
        people_affected=clean["people_affected"],
        groups=clean["groups"],
        trend=clean["trend"],
        source=clean["source"],
        confidence=clean["confidence"],
        sharing_level=clean["sharing_level"],
        consent_to_quote=clean["consent_to_quote"],
        consent_to_quote_funders=clean["consent_to_quote_funders"],
        external_ref=clean["external_ref"],
        partnership_id=partnership.id if partnership else None,
    )


def _category(value: Any, context: Context) -> int:
    if _blank(value):
        raise ValueError("Choose a category.")
    found = context.categories().get(_norm(value))
    if found is None:
        raise ValueError(f"Unknown category {str(value)[:40]!r}. Use one of the categories listed.")
    return found


def _ref(value: Any) -> str | None:
    if _blank(value):
        return None
    ref = str(value).strip()
    if isinstance(value, float) and value.is_integer():  # spreadsheets turn 123 into 123.0
        ref = str(int(value))
    if len(ref) > REF_MAX:
        raise ValueError(f"Your reference is too long (at most {REF_MAX} characters).")
    return ref


def _partnership(value: Any, context: Context) -> Partnership | None:
    options = context.partnerships()
    if _blank(value):
        if len(options) <= 1:
            if not options and context.organisation is None:
                raise ValueError("Choose the partnership to send this to.")
            return options[0] if options else None
        raise ValueError("Your organisation is in several partnerships: choose one.")
    for p in options:
        if str(value).strip().lower() in (p.slug, str(p.id)):
            return p
    raise ValueError(f"{str(value)[:40]!r} is not a partnership you can share with.")


def _area(value: Any, context: Context, partnership: Partnership | None) -> Area | None:
    if _blank(value):
        return None
    value = str(value).strip()
    # The form's searchable list offers "Name (CODE)": take the code.
    if m := re.search(r"\(([A-Za-z]\d{8})\)$", value):
        value = m.group(1)
    found = context.area(value)
    postcode = geography.normalise_postcode(value)
    if found == "no postcodes":
        raise ValueError(
            f"Postcodes cannot be looked up here yet, so {postcode} is not known: give the neighbourhood or ward "
            "instead."
        )
    if found == "unknown postcode":
        raise ValueError(
            f"We do not know the postcode {postcode}: check it, or give the neighbourhood or ward instead."
        )
    if found is None:
        raise ValueError(
            f"Unknown area {str(value).strip()[:40]!r}. Give a neighbourhood, a ward or LSOA name, or its ONS code."
        )
    if isinstance(found, str):  # "ambiguous" (the other answers in words are handled above)
        raise ValueError(f"Several areas are called {str(value).strip()[:40]!r}: give its ONS code instead.")
    if not found.current:  # observations sit on current areas; a superseded one is kept for older statistics only
        raise ValueError(
            f"{found.code} ({found.vintage_label or found.level.label}) is no longer in the current geography: "
            "give the ward, or the current LSOA it became (see its area page)."
        )
    if partnership is not None and not context.inside(found, partnership):
        if postcode is not None:
            ward = found.parent.name if found.parent else found.name
            raise ValueError(f"The postcode {postcode} is in {ward}, outside {partnership.name}'s area.")
        raise ValueError(f"{found.name} is outside {partnership.name}'s area.")
    return found


# OpenAPI --------------------------------------------------------------------------------------------------------


def json_schema() -> dict:
    """JSON Schema of an observation as the API accepts it, generated from :data:`FIELDS`."""
    properties: dict[str, dict] = {}
    for f in FIELDS:
        prop: dict[str, Any] = {"title": f.label, "description": f.description}
        if f.type in ("string", "text"):
            prop["type"] = "string"
        elif f.type == "enum":
            prop.update(type="string", enum=list(f.choices))
        elif f.type == "period":
            prop.update(type="string", pattern=r"^\d{4}-\d{2}(-\d{2})?$")
        elif f.type == "integer":
            prop.update(type="integer", minimum=0, maximum=MAX_PEOPLE)
        elif f.type == "boolean":
            prop["type"] = "boolean"
        elif f.type == "list":
            prop.update(type="array", items={"type": "string", "enum": list(f.choices)}, uniqueItems=True)
        if f.min_length is not None:
            prop["minLength"] = f.min_length
        if f.max_length is not None:
            prop["maxLength"] = f.max_length
        properties[f.name] = prop
    return {
        "type": "object",
        "required": [f.name for f in FIELDS if f.required],
        "properties": properties,
        "additionalProperties": False,
    }
