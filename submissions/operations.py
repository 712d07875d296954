"""Service layer for observations: submit, edit, withdraw, moderate, erase, import, export, API tokens, categories.

Operations change objects, flush, record audit events (ids only, never text) and return. They never commit and never
read the request: the view, CLI command or task that calls them owns the transaction. The same operation serves the
web form, the public form, the bulk importer, the API and the CLI. One module (just over 500 lines) for one job,
the package's service layer: every change to an observation goes through it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import re
import secrets
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from submissions import search, signals
from submissions.models import (
    DEFAULT_CATEGORIES,
    GROUPS,
    TEXT_MAX,
    TEXT_MIN,
    ApiToken,
    Category,
    Observation,
    ObservationStatus,
    Source,
)
from submissions.validation import CleanObservation, Context, ValidationFailed, validate
from webapp.extensions import db
from webapp.hierarchy import ids_within
from webapp.jobs import send_after_commit
from webapp.models import Area, AreaLevel, Organisation, Partnership, User, utcnow
from webapp.operations import OperationError, record, slugify
from webapp.secure_erase import reclaim_erased_space

log = logging.getLogger(__name__)


def _app() -> Flask:
    return current_app._get_current_object()  # type: ignore[attr-defined]  # werkzeug's LocalProxy method, untyped


def notify_saved(ids: list[int], created: bool = False) -> None:
    """Tell listeners (the NLP package) that these observations' text is new (``created``) or changed."""
    if ids:
        signals.observations_saved.send(_app(), ids=list(ids), created=created)


# Categories -----------------------------------------------------------------------------------------------------


def ensure_default_categories() -> int:
    """Add any default category that is missing (by slug); return how many were added."""
    existing = set(db.session.scalars(select(Category.slug)))
    added = 0
    for position, (slug, name, description) in enumerate(DEFAULT_CATEGORIES):
        if slug not in existing:
            db.session.add(Category(slug=slug, name=name, description=description, position=position))
            added += 1
    db.session.flush()
    return added


def active_categories() -> list[Category]:
    return list(
        db.session.scalars(select(Category).where(Category.active.is_(True)).order_by(Category.position, Category.name))
    )


def create_category(name: str, description: str = "", actor: User | None = None) -> Category:
    """Add a category to the taxonomy (admins)."""
    name = (name or "").strip()
    if not 2 <= len(name) <= 120:
        raise OperationError("Give the category a name of 2 to 120 characters.", "name")
    slug = slugify(name)
    if db.session.scalar(select(Category).where((Category.slug == slug) | (Category.name == name))):
        raise OperationError("A category with this name exists already.", "name")
    position = len(DEFAULT_CATEGORIES) + (db.session.scalar(select(db.func.count()).select_from(Category)) or 0)
    category = Category(slug=slug, name=name, description=(description or "").strip()[:1000], position=position)
    db.session.add(category)
    db.session.flush()
    record("category.create", "observation_category", category.id, actor)
    return category


# Submitting -----------------------------------------------------------------------------------------------------


def context_for(
    organisation: Organisation | None, partnership: Partnership | None = None, source: Source | None = None
) -> Context:
    """The validation context for an organisation's submissions, or a resident's to ``partnership``."""
    default_source = source or (Source.FRONTLINE_CONTACT if organisation else Source.RESIDENT_VOICE)
    return Context(organisation=organisation, partnership=partnership, default_source=default_source)


def _new(clean: CleanObservation, organisation: Organisation | None, author: User | None) -> Observation:
    status = ObservationStatus.SUBMITTED if organisation is not None else ObservationStatus.NEEDS_MODERATION
    return Observation(
        organisation_id=organisation.id if organisation else None,
        author_id=author.id if author else None,
        status=status,
        **clean.as_columns(),
    )


def submit_observation(
    data: Mapping[str, Any],
    *,
    organisation: Organisation | None,
    author: User | None,
    partnership: Partnership | None = None,
    via: str = "form",
    context: Context | None = None,
) -> Observation:
    """Validate ``data`` with the shared rules and store one observation.

    An organisation's observation is accepted as submitted; a resident's (``organisation`` None, signed in or through
    the public form) waits for a moderator of ``partnership``. Raises ValidationFailed naming every bad field.
    """
    context = context or context_for(organisation, partnership)
    clean = validate(data, context)
    if clean.external_ref and organisation is not None and _existing_ref(organisation.id, clean.external_ref):
        raise ValidationFailed({"external_ref": "An observation with this reference exists already."})
    obs = _new(clean, organisation, author)
    try:
        # A savepoint, so that a reference stored at the same moment by another request is a clear 422, not a 500.
        with db.session.begin_nested():
            db.session.add(obs)
    except IntegrityError:
        raise ValidationFailed({"external_ref": "An observation with this reference exists already."}) from None
    record("observation.create", "observation", obs.id, author, via=via, organisation_id=obs.organisation_id)
    log.info("observation %s created via %s", obs.id, via)
    notify_saved([obs.id], created=True)
    return obs


def _existing_ref(organisation_id: int, ref: str) -> int | None:
    return db.session.scalar(
        select(Observation.id).where(Observation.organisation_id == organisation_id, Observation.external_ref == ref)
    )


def update_observation(obs: Observation, data: Mapping[str, Any], actor: User) -> Observation:
    """Change an observation's fields (its own people only). A text change clears the redaction to be redone."""
    if obs.status is ObservationStatus.WITHDRAWN:
        raise OperationError("A withdrawn observation cannot be edited.", "text")
    context = context_for(obs.organisation, obs.partnership)
    clean = validate(data, context)
    if clean.external_ref and clean.external_ref != obs.external_ref and obs.organisation_id is not None:
        other = _existing_ref(obs.organisation_id, clean.external_ref)
        if other and other != obs.id:
            raise ValidationFailed({"external_ref": "An observation with this reference exists already."})
    text_changed = clean.text != obs.text
    for name, value in clean.as_columns().items():
        setattr(obs, name, value)
    if text_changed:
        obs.redacted_text = obs.redacted_at = obs.redaction_version = None
        if obs.status is ObservationStatus.APPROVED and obs.organisation_id is None:
            # A resident's changed text must be looked at again.
            obs.status = ObservationStatus.NEEDS_MODERATION
    obs.updated_at = utcnow()
    db.session.flush()
    record("observation.update", "observation", obs.id, actor, text_changed=text_changed)
    if text_changed:
        notify_saved([obs.id])
    return obs


def confirm_suggested_area(obs: Observation, actor: User) -> Observation:
    """Take the area that place detection suggested as the observation's area (a person confirms it)."""
    if obs.suggested_area_id is None:
        raise OperationError("There is no suggested area to confirm.", "area")
    obs.area_id = obs.suggested_area_id
    obs.updated_at = utcnow()
    db.session.flush()
    record("observation.confirm_area", "observation", obs.id, actor, area_id=obs.area_id)
    return obs


def moderator_areas(obs: Observation) -> list[Area]:
    """The areas a moderator may give a resident's observation: the current wards and LSOAs inside its partnership
    (wards first, by name)."""
    if obs.partnership is None:
        return []
    # The partnership's own areas and every area below them (the one hierarchy walk: a query per level, so that a
    # database holding all of England reads only this partnership's part).
    within = ids_within(a.id for a in obs.partnership.areas)
    found = {a.id: a for a in db.session.scalars(select(Area).where(Area.id.in_(sorted(within))))}
    chosen = [a for a in found.values() if a.current and a.level in (AreaLevel.WARD, AreaLevel.LSOA)]
    return sorted(chosen, key=lambda a: (a.level is not AreaLevel.WARD, a.name))


def set_area_by_moderator(obs: Observation, area: Area | None, moderator: User) -> Observation:
    """A moderator sets the area of a resident's observation (None: the partnership's whole area). The area must be
    a current ward or LSOA inside the partnership; the suggestion, if any, is then settled by a person."""
    if area is not None and area.id not in {a.id for a in moderator_areas(obs)}:
        raise OperationError("Choose one of the partnership's wards or neighbourhoods (LSOAs).", "area")
    obs.area_id = area.id if area is not None else None
    obs.suggested_area_id = None
    obs.updated_at = utcnow()
    db.session.flush()
    record("observation.set_area", "observation", obs.id, moderator, area_id=obs.area_id)
    return obs


def edit_text_by_moderator(obs: Observation, text: str, moderator: User) -> Observation:
    """Before approving a resident's observation, a moderator edits personal data out of its text. The audit log
    records who, when and that the text changed (and its length before and after), never the text itself; the text
    is redacted again from the edited version."""
    if obs.status is not ObservationStatus.NEEDS_MODERATION:
        raise OperationError(
            f"Only an observation waiting for moderation can be edited by a moderator ({obs.status.label}).", "text"
        )
    text = (text or "").replace("\x00", "").replace("\r\n", "\n").strip()
    if len(text) < TEXT_MIN:
        raise OperationError(f"The text is too short: keep at least {TEXT_MIN} characters.", "text")
    if len(text) > TEXT_MAX:
        raise OperationError(f"The text is too long: {len(text):,} characters; the most is {TEXT_MAX:,}.", "text")
    if text == obs.text:
        raise OperationError("The text is unchanged: edit out the personal data, or approve it as it is.", "text")
    before = len(obs.text)
    obs.text = text
    obs.redacted_text = obs.redacted_at = obs.redaction_version = None
    obs.updated_at = utcnow()
    db.session.flush()
    record(
        "observation.moderator_edit", "observation", obs.id, moderator,
        text_changed=True, length_before=before, length_after=len(text),
    )  # fmt: skip
    notify_saved([obs.id])
    return obs


def withdraw_observation(obs: Observation, actor: User) -> Observation:
    """Withdraw an observation: it stays with its organisation but leaves every shared view and count."""
    try:
        obs.withdraw()
    except ValueError:
        raise OperationError("This observation is already withdrawn.") from None
    db.session.flush()
    record("observation.withdraw", "observation", obs.id, actor)
    return obs


def approve_observation(obs: Observation, moderator: User) -> Observation:
    """Approve a resident's observation waiting for moderation."""
    try:
        obs.approve(moderator)
    except ValueError:
        message = f"Only an observation waiting for moderation can be approved ({obs.status.label})."
        raise OperationError(message) from None
    db.session.flush()
    record("observation.approve", "observation", obs.id, moderator)
    return obs


def reject_observation(obs: Observation, moderator: User, reason: str) -> Observation:
    """Reject an observation with a reason: shown to a signed-in submitter on their observation; for an anonymous
    sender (the public form, nobody to show it to) kept for the record, and the audit log says which."""
    reason = (reason or "").strip()
    if len(reason) < 3:
        raise OperationError("Give a reason for rejecting it.", "reason")
    if len(reason) > 500:
        raise OperationError("Keep the reason under 500 characters.", "reason")
    try:
        obs.reject(moderator, reason)
    except ValueError:
        raise OperationError(f"This observation cannot be rejected ({obs.status.label}).") from None
    db.session.flush()
    record("observation.reject", "observation", obs.id, moderator, reason_for=reason_audience(obs))
    return obs


def reason_audience(obs: Observation) -> str:
    """Who a rejection reason is for: "submitter" when a signed-in person sent it (they read it on their
    observation), "record" when the sender is anonymous and it is kept for the record only."""
    return "submitter" if obs.author_id is not None else "record"


def erase_observation(obs: Observation, actor: User) -> int:
    """Erase an observation for good: its row (text, redacted text) and, through the signal, everything derived.

    The audit log keeps only that an erasure happened, by whom and when: the id and nothing of the content.
    """
    obs_id = obs.id
    signals.observation_erased.send(_app(), id=obs_id)
    db.session.delete(obs)
    db.session.flush()
    search.forget_erased(db.session.connection())  # the search index's own pages lose its words too
    record("observation.erase", "observation", obs_id, actor)
    log.info("observation %s erased", obs_id)
    # Once committed: checkpoint SQLite's WAL (deleted rows are zeroed by secure_delete) or VACUUM on PostgreSQL.
    send_after_commit(reclaim_erased_space)
    return obs_id


# Bulk -----------------------------------------------------------------------------------------------------------


def store_clean_rows(
    rows: Iterable[tuple[int, CleanObservation]], organisation: Organisation, author: User | None
) -> list[int]:
    """Store already validated rows of one organisation; skip refs already stored. Returns the new ids."""
    new: list[Observation] = []
    for _row_number, clean in rows:
        obs = _new(clean, organisation, author)
        db.session.add(obs)
        new.append(obs)
        if len(new) % 1000 == 0:  # bounded memory in the unit of work; still one transaction
            db.session.flush()
    db.session.flush()
    ids = [o.id for o in new]
    notify_saved(ids, created=True)
    return ids


def existing_refs(organisation_id: int) -> set[str]:
    return set(
        db.session.scalars(
            select(Observation.external_ref).where(
                Observation.organisation_id == organisation_id, Observation.external_ref.is_not(None)
            )
        )
    )


# Export ---------------------------------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
EXPORT_COLUMNS = (
    "id", "external_ref", "kind", "category", "text", "area_code", "area_name", "period", "period_precision",
    "people_affected", "groups", "trend", "source", "confidence", "sharing_level", "consent_to_quote",
    "consent_to_quote_funders", "status",
    "rejection_reason", "created_at", "updated_at",
)  # fmt: skip


def neutralise(value: Any) -> str:
    """A cell value safe to open in a spreadsheet: text starting like a formula gets a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def period_value(o: Observation) -> str:
    """The period as the importer reads it back: YYYY-MM-DD for a day, YYYY-MM for a month."""
    return o.period_start.isoformat() if o.period_precision.value == "day" else o.period_start.strftime("%Y-%m")


def export_csv(organisation: Organisation, actor: User) -> str:
    """Every observation of ``organisation`` as CSV (raw text: it is the organisation's own), formula-safe."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    stmt = select(Observation).where(Observation.organisation_id == organisation.id).order_by(Observation.id)
    count = 0
    for o in db.session.scalars(stmt):
        count += 1
        writer.writerow(
            [
                neutralise(v)
                for v in (
                    o.id,
                    o.external_ref,
                    o.kind.value,
                    o.category.slug,
                    o.text,
                    o.area.code if o.area else "",
                    o.area.name if o.area else "",
                    period_value(o),
                    o.period_precision.value,
                    o.people_affected,
                    "; ".join(o.groups or []),
                    o.trend.value,
                    o.source.value,
                    o.confidence.value,
                    o.sharing_level.value,
                    "yes" if o.consent_to_quote else "no",
                    "yes" if o.consent_to_quote_funders else "no",
                    o.status.value,
                    o.rejection_reason,
                    o.created_at.isoformat(timespec="seconds"),
                    o.updated_at.isoformat(timespec="seconds"),
                )
            ]
        )
    record("observation.export", "organisation", organisation.id, actor, rows=count)
    return out.getvalue()


# API tokens -----------------------------------------------------------------------------------------------------

TOKEN_PREFIX = "ci_"  # noqa: S105 - marks our tokens in logs and secret scanners, not a secret


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


API_TOKEN_LIFETIMES = (30, 90, 180, 365)
# A rotated token keeps working this long, so the system that uses it can switch without a gap.
ROTATION_GRACE = timedelta(hours=24)


def create_api_token(
    organisation: Organisation, name: str, actor: User, days: int | None = None
) -> tuple[ApiToken, str]:
    """A new token for ``organisation`` that expires after ``days`` (default COMMINTEL_API_TOKEN_DAYS); returns it
    with the raw value, which is never stored or shown again."""
    name = (name or "").strip()
    if not 2 <= len(name) <= 120:
        raise OperationError("Name the token (2 to 120 characters), e.g. after the system that will use it.", "name")
    default_days = current_app.config["COMMINTEL_API_TOKEN_DAYS"]
    days = default_days if days is None else days
    if days not in (*API_TOKEN_LIFETIMES, default_days):
        choices = ", ".join(str(d) for d in sorted({*API_TOKEN_LIFETIMES, default_days}))
        raise OperationError(f"Choose how long the token works: {choices} days.", "days")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        organisation_id=organisation.id,
        name=name,
        token_hash=_hash(raw),
        prefix=raw[:10],
        created_by_id=actor.id,
        expires_at=utcnow() + timedelta(days=days),
    )
    db.session.add(token)
    db.session.flush()
    record("api_token.create", "api_token", token.id, actor, organisation_id=organisation.id, days=days)
    return token, raw


def rotate_api_token(token: ApiToken, actor: User) -> tuple[ApiToken, str]:
    """Replace a token with a new one of the same name and lifetime; the old one stops working within a day."""
    if not token.active:
        raise OperationError("Only a working token can be rotated; create a new one instead.")
    lifetime = max(1, round((token.expires_at - token.created_at) / timedelta(days=1)))
    days = min(API_TOKEN_LIFETIMES + (current_app.config["COMMINTEL_API_TOKEN_DAYS"],), key=lambda d: abs(d - lifetime))
    new, raw = create_api_token(token.organisation, token.name, actor, days)
    token.expires_at = min(token.expires_at, utcnow() + ROTATION_GRACE)
    token.replaced_by_id = new.id
    db.session.flush()
    record("api_token.rotate", "api_token", token.id, actor, organisation_id=token.organisation_id, new_id=new.id)
    return new, raw


def revoke_api_token(token: ApiToken, actor: User) -> ApiToken:
    """Stop a token working, at once and for good."""
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.flush()
        record("api_token.revoke", "api_token", token.id, actor, organisation_id=token.organisation_id)
    return token


_BEARER = re.compile(r"^Bearer\s+(\S+)\s*$", re.IGNORECASE)


def _token_named(header: str | None) -> ApiToken | None:
    match = _BEARER.match(header or "")
    if not match:
        return None
    return db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash(match.group(1))))


# An API token's last use is written at most once a minute (webapp.accounts does the same for sessions).
TOKEN_TOUCH_SECONDS = 60


def authenticate_api_token(header: str | None) -> ApiToken | None:
    """The active (unrevoked, unexpired) token named by an ``Authorization: Bearer ...`` header, its last use
    noted (to the minute: it is shown to the minute, and a write on every call would make a partner system's
    concurrent requests queue for the token's row); else None (:func:`api_token_refusal` says why)."""
    token = _token_named(header)
    if token is None or not token.active:
        return None
    now = utcnow()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() >= TOKEN_TOUCH_SECONDS:
        token.last_used_at = now
    return token


def api_token_refusal(header: str | None) -> str:
    """Why the header's token was refused, in words the partner system's developer can act on."""
    token = _token_named(header)
    if token is not None and token.revoked_at is not None:
        return "This API token has been revoked. Ask your organisation admin for a new one."
    if token is not None and token.expired:
        return (
            f"This API token expired on {token.expires_at:%Y-%m-%d %H:%M} UTC. "
            "Ask your organisation admin for a new one (or to rotate it before it expires)."
        )
    return "Send a valid API token: 'Authorization: Bearer <token>'."


def group_choices() -> list[tuple[str, str]]:
    return list(GROUPS.items())
