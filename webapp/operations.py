"""Service layer for people, organisations, partnerships, one-time links and the audit log.

Operations change objects, flush, log ids and return. They never commit and never read the request: the caller (a
view, a CLI command, a task) owns the transaction.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import Select, func, select

from webapp import passwords
from webapp.extensions import db
from webapp.models import (
    AgreementAcceptance,
    Area,
    AreaLevel,
    AuditEvent,
    DataSharingAgreement,
    Membership,
    OneTimeToken,
    Organisation,
    OrgKind,
    OrgRole,
    Partnership,
    PlatformRole,
    TokenPurpose,
    User,
    utcnow,
)

log = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = passwords.MIN_LENGTH


@functools.cache
def _dummy_hash() -> str:
    """A real hash to verify against when the email is unknown, so both answers take the same time."""
    return User.hasher().hash(secrets.token_hex(16))


class OperationError(ValueError):
    """A request the rules do not allow. ``field`` names the form field it concerns, when there is one."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


# Small helpers ---------------------------------------------------------------------------------------------------


def normalise_email(email: str, field: str = "email") -> str:
    """Lower-cased, validated email address; OperationError naming ``field`` when it is not one."""
    try:
        return validate_email((email or "").strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise OperationError("Enter an email address in the form name@example.org.", field) from None


def check_password_strength(password: str, field: str = "password", personal: tuple[str, ...] = ()) -> None:
    """Refuse a password that is too short or long, common (breached), or built from context or personal words."""
    message = passwords.problem(password, personal)
    if message is not None:
        raise OperationError(message, field)


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:80] or "org"


def record(action: str, object_type: str, object_id: object = None, actor: User | None = None, **detail: Any) -> None:
    """Append to the audit log. ``detail`` carries ids and short facts only, never free text or personal data."""
    db.session.add(
        AuditEvent(
            action=action,
            object_type=object_type,
            object_id=None if object_id is None else str(object_id),
            actor_id=actor.id if actor is not None else None,
            detail=detail,
        )
    )


# People and organisations ----------------------------------------------------------------------------------------


def get_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def create_user(
    email: str,
    password: str,
    display_name: str | None = None,
    platform_role: PlatformRole | None = None,
    organisation: Organisation | None = None,
    org_role: OrgRole | None = None,
    actor: User | None = None,
) -> User:
    """Create an account; with ``organisation`` also a membership. Refuses a duplicate email."""
    email = normalise_email(email)
    check_password_strength(password, personal=(email, display_name or ""))
    if get_user_by_email(email) is not None:
        raise OperationError("An account with this email address already exists.", "email")
    if platform_role is PlatformRole.RESIDENT and organisation is not None:
        raise OperationError("A resident is an individual with no organisation.", "organisation")
    user = User(
        email=email,
        display_name=(display_name or email.split("@")[0]).strip()[:120],
        platform_role=platform_role,
    )
    user.set_password(password)
    db.session.add(user)
    if organisation is not None:
        user.memberships.append(Membership(organisation=organisation, role=org_role or OrgRole.MEMBER))
    db.session.flush()
    record("user.create", "user", user.id, actor, platform_role=platform_role and platform_role.value)
    log.info("created user %s", user.id)
    return user


def authenticate(email: str, password: str) -> User | None:
    """The active user with this email and password, or None. Takes as long for unknown emails as for known."""
    user = get_user_by_email(email or "")
    if user is None:
        User(password_hash=_dummy_hash()).check_password(password or "")
        return None
    if not user.check_password(password or "") or not user.active:
        return None
    return user


def create_organisation(
    name: str, kind: OrgKind | str, slug: str | None = None, actor: User | None = None
) -> Organisation:
    """Create an organisation; refuses a name or slug already taken."""
    name = (name or "").strip()
    if len(name) < 2:
        raise OperationError("Give the organisation a name of at least 2 characters.", "name")
    try:
        kind = OrgKind(kind)
    except ValueError:
        kinds = ", ".join(k.value for k in OrgKind)
        raise OperationError(f"Unknown kind of organisation {kind!r}; choose one of {kinds}.", "kind") from None
    slug = slugify(slug or name)
    if db.session.scalar(select(Organisation).where(func.lower(Organisation.name) == name.lower())):
        raise OperationError("An organisation with this name already exists.", "name")
    if db.session.scalar(select(Organisation).where(Organisation.slug == slug)):
        raise OperationError(f"The short name {slug!r} is taken.", "slug")
    org = Organisation(name=name, slug=slug, kind=kind)
    db.session.add(org)
    db.session.flush()
    record("organisation.create", "organisation", org.id, actor)
    return org


def add_membership(user: User, org: Organisation, role: OrgRole = OrgRole.MEMBER) -> Membership:
    """Make ``user`` a member of ``org`` (or change their role there)."""
    for m in user.memberships:
        if m.organisation_id == org.id:
            m.role = role
            return m
    membership = Membership(user=user, organisation=org, role=role)
    db.session.add(membership)
    db.session.flush()
    return membership


def create_partnership(
    name: str,
    slug: str | None = None,
    areas: list[Area] | None = None,
    members: list[Organisation] | None = None,
    funders: list[Organisation] | None = None,
    convenors: list[User] | None = None,
    actor: User | None = None,
) -> Partnership:
    """Create a partnership with the areas it covers and the organisations and people in it."""
    name = (name or "").strip()
    if not 2 <= len(name) <= 200:
        raise OperationError("Give the partnership a name of 2 to 200 characters.", "name")
    if db.session.scalar(select(Partnership).where(func.lower(Partnership.name) == name.lower())):
        raise OperationError(f"A partnership called {name!r} exists already.", "name")
    slug = slugify(slug or name)
    if db.session.scalar(select(Partnership).where(Partnership.slug == slug)):
        raise OperationError(f"A partnership called {slug!r} exists already.", "slug")
    for funder in funders or []:
        if funder.kind is not OrgKind.FUNDER:
            raise OperationError(f"{funder.name} is not a funder organisation.", "funders")
    partnership = Partnership(
        name=name,
        slug=slug,
        areas=list(areas or []),
        members=list(members or []),
        funders=list(funders or []),
        convenors=list(convenors or []),
    )
    for user in convenors or []:
        _check_convenor(user)
    db.session.add(partnership)
    db.session.flush()
    record("partnership.create", "partnership", partnership.id, actor)
    return partnership


def _check_convenor(user: User) -> None:
    if user.platform_role not in (PlatformRole.CONVENOR, PlatformRole.ADMIN):
        raise OperationError(
            f"{user.email} is not a convenor: give the account the convenor role first "
            "(commintel users create --role convenor).",
            "convenor",
        )


PARTNERSHIP_PARTS = ("area", "member", "funder", "convenor")
PARTNERSHIP_AREA_LEVELS = (AreaLevel.LAD, AreaLevel.WARD, AreaLevel.LSOA)


def area_named(value: str) -> Area:
    """A local authority, ward or LSOA by ONS code or (current areas) name; a clear message when none or several."""
    value = (value or "").strip()
    found = db.session.scalar(select(Area).where(func.upper(Area.code) == value.upper()))
    if found is None:
        named = list(db.session.scalars(
            select(Area).where(func.lower(Area.name) == value.lower(), Area.current.is_(True),
                               Area.level.in_(PARTNERSHIP_AREA_LEVELS)).limit(2)
        ))  # fmt: skip
        if len(named) > 1:
            raise OperationError(f"Several areas are called {value[:60]!r}: give its ONS code instead.", "areas")
        found = named[0] if named else None
    if found is None or found.level not in PARTNERSHIP_AREA_LEVELS:
        raise OperationError(f"No local authority, ward or LSOA {value[:60]!r}: give a name or an ONS code.", "areas")
    return found


def add_to_partnership(
    partnership: Partnership, what: str, item: Area | Organisation | User, actor: User | None
) -> bool:
    """Add an area it covers, a member organisation, a funder organisation or a convenor; False when it was there
    already. A funder must be a funder organisation, a convenor must have the convenor role; a new member must
    accept the current data-sharing agreement before its observations are shared (as every member)."""
    # ``item`` is what ``what`` names: the checks below read it as that (an Organisation for member and funder).
    if what == "area":
        collection = cast(list[Any], partnership.areas)
    elif what == "member":
        collection = cast(list[Any], partnership.members)
        if item in partnership.funders:
            raise OperationError(f"{item.name} funds {partnership.name}: it is a member or a funder, not both.", what)
    elif what == "funder":
        collection = cast(list[Any], partnership.funders)
        if getattr(item, "kind", None) is not OrgKind.FUNDER:
            raise OperationError(f"{item.name} is not a funder organisation.", what)
        if item in partnership.members:
            raise OperationError(f"{item.name} is a member of {partnership.name}: it cannot also be its funder.", what)
    elif what == "convenor":
        collection = cast(list[Any], partnership.convenors)
        _check_convenor(item)  # type: ignore[arg-type]  # a convenor is a User
    else:
        raise OperationError(f"Unknown part of a partnership: {what!r}.", "what")
    if item in collection:
        return False
    collection.append(item)
    db.session.flush()
    record(f"partnership.add_{what}", "partnership", partnership.id, actor, **{f"{what}_id": item.id})
    return True


def publish_agreement(partnership: Partnership, text: str, actor: User | None = None) -> DataSharingAgreement:
    """Add a new version of the partnership's data-sharing agreement; every member must accept it again."""
    text = (text or "").strip()
    if len(text) < 20:
        raise OperationError("Write out the agreement (at least 20 characters).", "text")
    current = partnership.current_agreement
    agreement = DataSharingAgreement(
        partnership=partnership,
        version=(current.version + 1) if current else 1,
        text=text,
        created_by_id=actor.id if actor else None,
    )
    db.session.add(agreement)
    db.session.flush()
    record("agreement.publish", "data_sharing_agreement", agreement.id, actor, version=agreement.version)
    return agreement


def set_public_form(partnership: Partnership, enabled: bool, actor: User) -> Partnership:
    """Switch the partnership's public resident form on or off (audited). Submissions through it always wait for
    a convenor's moderation."""
    if partnership.public_form_enabled != enabled:
        partnership.public_form_enabled = enabled
        db.session.flush()
        record("partnership.public_form", "partnership", partnership.id, actor, enabled=enabled)
    return partnership


def accept_agreement(agreement: DataSharingAgreement, organisation: Organisation, actor: User) -> AgreementAcceptance:
    """Record that ``actor`` accepted ``agreement`` for ``organisation`` (idempotent)."""
    if organisation not in agreement.partnership.members:
        raise OperationError(f"{organisation.name} is not a member of {agreement.partnership.name}.", "organisation")
    for acceptance in agreement.acceptances:
        if acceptance.organisation_id == organisation.id:
            return acceptance
    acceptance = AgreementAcceptance(agreement=agreement, organisation=organisation, accepted_by_id=actor.id)
    db.session.add(acceptance)
    db.session.flush()
    record("agreement.accept", "data_sharing_agreement", agreement.id, actor, organisation_id=organisation.id)
    return acceptance


def sharing_organisation_ids(partnership: Partnership) -> set[int]:
    """Member organisations whose partnership-level observations reach the partnership: those that accepted the
    current agreement version. No agreement yet means nothing is shared at partnership level."""
    current = partnership.current_agreement
    if current is None:
        return set()
    members = {o.id for o in partnership.members}
    return {a.organisation_id for a in current.acceptances if a.organisation_id in members}


# One-time links: invitations and password resets -----------------------------------------------------------------


def _hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: OneTimeToken
    raw: str

    @property
    def path(self) -> str:
        kind = "invitation" if self.token.purpose is TokenPurpose.INVITATION else "reset"
        return f"/auth/{kind}/{self.raw}"


def _family(purpose: TokenPurpose, email: str) -> Select[tuple[OneTimeToken]]:
    """The unused, unrevoked links of one family: the same purpose for the same address."""
    return select(OneTimeToken).where(
        OneTimeToken.purpose == purpose,
        func.lower(OneTimeToken.email) == email.lower(),
        OneTimeToken.used_at.is_(None),
        OneTimeToken.revoked_at.is_(None),
    )


def revoke_links(purpose: TokenPurpose, email: str, keep: OneTimeToken | None = None) -> int:
    """End every open link of the family except ``keep``; the number ended."""
    ended = 0
    for token in db.session.scalars(_family(purpose, email)):
        if keep is None or token.id != keep.id:
            token.revoked_at = utcnow()
            ended += 1
    return ended


def _issue(purpose: TokenPurpose, email: str, **fields: Any) -> IssuedToken:
    """A new link; every earlier open link of the same family stops working (single use as a family)."""
    revoke_links(purpose, email)
    raw = secrets.token_urlsafe(32)
    token = OneTimeToken(
        purpose=purpose,
        token_hash=_hash_token(raw),
        email=email,
        expires_at=utcnow() + timedelta(hours=current_app.config["COMMINTEL_TOKEN_HOURS"]),
        **fields,
    )
    db.session.add(token)
    db.session.flush()
    return IssuedToken(token, raw)


def invite(
    email: str,
    invited_by: User,
    organisation: Organisation | None = None,
    org_role: OrgRole = OrgRole.MEMBER,
    platform_role: PlatformRole | None = None,
) -> IssuedToken:
    """Invite someone by email to an organisation (organisation admins, admins) or to a platform role (admins).

    An organisation invitation does the same work whether or not the address has an account, so the answer (and
    its timing) does not tell an organisation admin who has one: an existing account accepts it by signing in.
    A platform-role invitation is for admins only, who see every account anyway; it refuses an existing one.
    """
    email = normalise_email(email)
    if organisation is None and platform_role is None:
        raise OperationError("Choose an organisation or a role for the invitation.", "platform_role")
    if platform_role is not None and not invited_by.is_admin:
        raise OperationError("Only an administrator can invite to a platform role.", "platform_role")
    existing = get_user_by_email(email)
    if platform_role is not None and existing is not None:
        raise OperationError("This person already has an account.", "email")
    issued = _issue(
        TokenPurpose.INVITATION,
        email,
        organisation=organisation,
        org_role=org_role if organisation is not None else None,
        platform_role=platform_role,
        created_by_id=invited_by.id,
        user_id=existing.id if existing is not None else None,
    )
    record("invitation.create", "one_time_token", issued.token.id, invited_by)
    return issued


def find_token(raw: str, purpose: TokenPurpose) -> OneTimeToken:
    """The unused, unrevoked, unexpired token; OperationError saying why otherwise."""
    token = db.session.scalar(
        select(OneTimeToken).where(OneTimeToken.token_hash == _hash_token(raw or ""), OneTimeToken.purpose == purpose)
    )
    if token is None:
        raise OperationError("This link is not valid. Ask for a new one.")
    if token.used_at is not None:
        raise OperationError("This link has already been used. Ask for a new one.")
    if token.revoked_at is not None:
        raise OperationError("A newer link has been sent, or this one was cancelled. Use the newest link you have.")
    if token.expires_at <= utcnow():
        raise OperationError("This link has expired. Ask for a new one.")
    return token


def use_token(token: OneTimeToken) -> None:
    """Use up a one-time link, and every other open link of its purpose to the same address."""
    token.used_at = utcnow()
    revoke_links(token.purpose, token.email, keep=token)


def accept_invitation(raw: str, display_name: str, password: str) -> User:
    """Create the invited account and use up the invitation (and every other open invitation to the address)."""
    token = find_token(raw, TokenPurpose.INVITATION)
    if token.user_id is not None or get_user_by_email(token.email) is not None:
        raise OperationError("This address already has an account: sign in to accept the invitation.")
    if not (display_name or "").strip():
        raise OperationError("Tell us the name to show for you.", "display_name")
    user = create_user(
        token.email,
        password,
        display_name=display_name,
        platform_role=token.platform_role,
        organisation=token.organisation,
        org_role=token.org_role,
    )
    use_token(token)
    record("invitation.accept", "one_time_token", token.id, user)
    return user


def accept_invitation_as(raw: str, user: User) -> Membership:
    """An existing account accepts an organisation invitation sent to its address: it joins the organisation."""
    token = find_token(raw, TokenPurpose.INVITATION)
    if token.organisation is None or token.email.lower() != user.email.lower():
        raise OperationError("This invitation is for another account. Sign out and sign in as the invited person.")
    if user.platform_role is PlatformRole.RESIDENT:
        raise OperationError("A resident account cannot join an organisation; ask an administrator.")
    membership = add_membership(user, token.organisation, token.org_role or OrgRole.MEMBER)
    use_token(token)
    record("invitation.accept", "one_time_token", token.id, user, organisation_id=token.organisation.id)
    return membership


def request_password_reset(email: str) -> IssuedToken | None:
    """A reset link for an active account with this email, or None (the caller says the same either way).

    Issuing it ends every earlier reset link of the account. Runs in the background (``webapp.tasks``), so the
    request that asked takes the same time whether or not the account exists.
    """
    user = get_user_by_email(email or "")
    if user is None or not user.active:
        return None
    issued = _issue(TokenPurpose.PASSWORD_RESET, user.email, user_id=user.id)
    record("password_reset.request", "user", user.id, user)
    return issued
