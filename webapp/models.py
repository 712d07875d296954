"""People, organisations, partnerships, statistical geography, one-time tokens, the audit log and jobs.

These are the ground floor: every other package links to them, none of them links upwards. One module (over 500
lines) because the tables refer to one another and are read together: a split would only scatter the relationships.
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import Model, db

_hasher = PasswordHasher()


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Stores naive UTC and hands back aware UTC datetimes, on SQLite (no zone support) and PostgreSQL alike."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def str_enum(enum_cls: type[enum.Enum], length: int = 32) -> Enum:
    """An enum stored as its value in a plain string column (portable, and readable in SQL)."""
    return Enum(
        enum_cls,
        native_enum=False,
        length=length,
        validate_strings=True,
        values_callable=lambda members: [m.value for m in members],
    )


class PlatformRole(enum.StrEnum):
    RESIDENT = "resident"
    CONVENOR = "convenor"
    FUNDER = "funder"
    ADMIN = "admin"


class OrgKind(enum.StrEnum):
    CHARITY = "charity"
    MUTUAL_AID = "mutual_aid"
    RESIDENTS_ASSOCIATION = "residents_association"
    COMMUNITY_BUSINESS = "community_business"
    PUBLIC_BODY = "public_body"
    FUNDER = "funder"

    @property
    def label(self) -> str:
        return {
            "charity": "Charity",
            "mutual_aid": "Mutual-aid group",
            "residents_association": "Residents' association",
            "community_business": "Community business",
            "public_body": "Public body",
            "funder": "Funder",
        }[self.value]


class OrgRole(enum.StrEnum):
    MEMBER = "member"
    ADMIN = "admin"


class AreaLevel(enum.StrEnum):
    LSOA = "lsoa"
    WARD = "ward"
    LAD = "lad"
    CUSTOM = "custom"

    @property
    def label(self) -> str:
        return {"lsoa": "LSOA", "ward": "Ward", "lad": "Local authority", "custom": "Custom area"}[self.value]


class TokenPurpose(enum.StrEnum):
    INVITATION = "invitation"
    PASSWORD_RESET = "password_reset"  # noqa: S105 - a token purpose, not a password


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class User(UserMixin, Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(120))
    platform_role: Mapped[PlatformRole | None] = mapped_column(str_enum(PlatformRole))
    active: Mapped[bool] = mapped_column(default=True)
    # Bumped on a password change so that every other signed-in session of this user ends.
    session_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Second factor (TOTP, RFC 6238). A secret without ``totp_enabled_at`` is an enrolment not yet confirmed.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The 30-second step of the last code accepted: a code (or an earlier one) is never accepted twice.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)

    memberships: Mapped[list[Membership]] = relationship(back_populates="user", cascade="all, delete-orphan")
    # The partnerships this person convenes (read-only mirror of Partnership.convenors).
    convened: Mapped[list[Partnership]] = relationship(secondary="partnership_convenors", viewonly=True)

    def __repr__(self) -> str:
        return f"<User {self.id}>"

    # Flask-Login
    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return f"{self.id}.{self.session_version}"

    @staticmethod
    def hasher() -> PasswordHasher:
        return _hasher

    def set_password(self, password: str) -> None:
        self.password_hash = _hasher.hash(password)

    def check_password(self, password: str) -> bool:
        try:
            return _hasher.verify(self.password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    @property
    def organisations(self) -> list[Organisation]:
        return [m.organisation for m in self.memberships]

    def org_role(self, organisation: Organisation) -> OrgRole | None:
        for m in self.memberships:
            if m.organisation_id == organisation.id:
                return m.role
        return None

    @property
    def is_admin(self) -> bool:
        return self.platform_role is PlatformRole.ADMIN

    @property
    def mfa_enabled(self) -> bool:
        return self.totp_enabled_at is not None and self.totp_secret is not None


class Organisation(Model):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[OrgKind] = mapped_column(str_enum(OrgKind))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Whether other partners may see this organisation's name in the organisation network (convening/network.py):
    # off until one of its admins agrees; unnamed organisations are only counted.
    network_named: Mapped[bool] = mapped_column(default=False, server_default=false())

    memberships: Mapped[list[Membership]] = relationship(back_populates="organisation", cascade="all, delete-orphan")

    def __repr__(self) -> str:
        return f"<Organisation {self.slug}>"


class Membership(Model):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "organisation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    role: Mapped[OrgRole] = mapped_column(str_enum(OrgRole), default=OrgRole.MEMBER)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships")
    organisation: Mapped[Organisation] = relationship(back_populates="memberships")


partnership_areas = Table(
    "partnership_areas",
    db.Model.metadata,
    Column("partnership_id", ForeignKey("partnerships.id", ondelete="CASCADE"), primary_key=True),
    Column("area_id", ForeignKey("areas.id", ondelete="CASCADE"), primary_key=True),
)
partnership_members = Table(
    "partnership_members",
    db.Model.metadata,
    Column("partnership_id", ForeignKey("partnerships.id", ondelete="CASCADE"), primary_key=True),
    Column("organisation_id", ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True),
)
partnership_funders = Table(
    "partnership_funders",
    db.Model.metadata,
    Column("partnership_id", ForeignKey("partnerships.id", ondelete="CASCADE"), primary_key=True),
    Column("organisation_id", ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True),
)
partnership_convenors = Table(
    "partnership_convenors",
    db.Model.metadata,
    Column("partnership_id", ForeignKey("partnerships.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)


class Partnership(Model):
    """A multi-agency partnership: the areas it covers, its member organisations, convenors and funders."""

    __tablename__ = "partnerships"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    # Residents without an account may submit through the public form only where the partnership switched it on.
    public_form_enabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    agreements: Mapped[list[DataSharingAgreement]] = relationship(
        back_populates="partnership", order_by="DataSharingAgreement.version", cascade="all, delete-orphan"
    )
    areas: Mapped[list[Area]] = relationship(secondary=partnership_areas, order_by="Area.name")
    members: Mapped[list[Organisation]] = relationship(secondary=partnership_members, order_by="Organisation.name")
    funders: Mapped[list[Organisation]] = relationship(secondary=partnership_funders, order_by="Organisation.name")
    convenors: Mapped[list[User]] = relationship(secondary=partnership_convenors, order_by="User.display_name")

    def __repr__(self) -> str:
        return f"<Partnership {self.slug}>"

    @property
    def current_agreement(self) -> DataSharingAgreement | None:
        return self.agreements[-1] if self.agreements else None


class DataSharingAgreement(Model):
    """A version of a partnership's data-sharing agreement. Members accept each version anew.

    It lives here, beside Partnership, because the sharing rule it sets is applied by every package above
    (observations, themes, briefings); convening/ holds the pages where it is written and accepted.
    """

    __tablename__ = "data_sharing_agreements"
    __table_args__ = (UniqueConstraint("partnership_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    partnership_id: Mapped[int] = mapped_column(ForeignKey("partnerships.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column()
    text: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    partnership: Mapped[Partnership] = relationship(back_populates="agreements")
    acceptances: Mapped[list[AgreementAcceptance]] = relationship(
        back_populates="agreement", cascade="all, delete-orphan"
    )


class AgreementAcceptance(Model):
    """An organisation's acceptance of one agreement version: who accepted it for them, and when."""

    __tablename__ = "agreement_acceptances"
    __table_args__ = (UniqueConstraint("agreement_id", "organisation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("data_sharing_agreements.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    agreement: Mapped[DataSharingAgreement] = relationship(back_populates="acceptances")
    organisation: Mapped[Organisation] = relationship()


class Area(Model):
    """A statistical area (ONS code) or a custom one, with its parent in the hierarchy LSOA → ward → LA.

    An ONS code that did not change between two releases of the geography (most LSOAs 2011 → 2021, Bristol's wards
    2019 → 2024) is one area carrying both *vintages* (:class:`AreaVintage`). ``current`` is False for an area that a
    newer vintage loaded for its local authority no longer has (an LSOA 2011 split in 2021): it is kept for the
    datasets published on it and reached through the LSOA 2011 → 2021 bridge (:class:`AreaChange`), while
    partnership areas, observation places and maps use current areas only. An LSOA's parent is always a current
    ward: its ward in the newest lookup that has it, or (superseded LSOAs whose ward changed) its successors' ward.
    """

    __tablename__ = "areas"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    level: Mapped[AreaLevel] = mapped_column(str_enum(AreaLevel), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="SET NULL"), index=True)
    # GeoJSON geometry (WGS84) as text: read whole for maps, never queried spatially.
    boundary: Mapped[str | None] = mapped_column(Text)
    current: Mapped[bool] = mapped_column(default=True, server_default=true(), index=True)

    parent: Mapped[Area | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Area]] = relationship(back_populates="parent", order_by="Area.name")
    vintages: Mapped[list[AreaVintage]] = relationship(
        back_populates="area", cascade="all, delete-orphan", order_by="AreaVintage.year"
    )

    def __repr__(self) -> str:
        return f"<Area {self.code}>"

    @property
    def vintage_years(self) -> list[int]:
        return [v.year for v in self.vintages]

    @property
    def vintage_label(self) -> str:
        """ "LSOA 2011 and 2021", "Ward 2019 and 2024", or "" when the loaded lookups did not say."""
        years = self.vintage_years
        if not years:
            return ""
        listed = ", ".join(str(y) for y in years[:-1]) + (" and " if len(years) > 1 else "") + str(years[-1])
        return f"{self.level.label} {listed}"

    @property
    def current_children(self) -> list[Area]:
        return [c for c in self.children if c.current]


class AreaVintage(Model):
    """One release of the ONS geography an area belongs to (LSOA 2011, LSOA 2021, ward 2024...), with its name in
    that release (LSOA names were renumbered in 2021 though most codes stayed)."""

    __tablename__ = "area_vintages"

    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True, index=True)
    name: Mapped[str] = mapped_column(String(200), default="")

    area: Mapped[Area] = relationship(back_populates="vintages")


class AreaChangeKind(enum.StrEnum):
    """ONS change indicators (CHGIND) of the LSOA 2011 → 2021 lookup."""

    UNCHANGED = "U"
    SPLIT = "S"
    MERGED = "M"
    COMPLEX = "X"

    @property
    def label(self) -> str:
        return {"U": "unchanged", "S": "split", "M": "merged", "X": "complex change"}[self.value]


class AreaChange(Model):
    """One row of the best-fit bridge between two vintages of a geography (the ONS "LSOA (2011) to LSOA (2021)"
    lookup): the old area, the new area, and how it changed. Split: one old area, several new rows; merged: several
    old, one new; complex (X): several of each; unchanged: the same code on both sides."""

    __tablename__ = "area_changes"
    __table_args__ = (UniqueConstraint("old_area_id", "new_area_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    old_area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"), index=True)
    new_area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"), index=True)
    change: Mapped[AreaChangeKind] = mapped_column(str_enum(AreaChangeKind, length=1))
    old_year: Mapped[int] = mapped_column()
    new_year: Mapped[int] = mapped_column()
    # Where the bridge came from ("ONS best-fit lookup, file X"): shown wherever a value crosses it.
    method: Mapped[str] = mapped_column(String(300), default="")

    old_area: Mapped[Area] = relationship(foreign_keys=[old_area_id])
    new_area: Mapped[Area] = relationship(foreign_keys=[new_area_id])


class Neighbourhood(Model):
    """A place name people use (Barton Hill, St Pauls, Knowle West) and the ward holding it: a gazetteer, loaded from
    a CSV, so that an area typed as a neighbourhood is stored as its ward. ``key`` is the name folded for matching
    (:func:`webapp.geography.place_key`: case, punctuation, "&" and "and")."""

    __tablename__ = "neighbourhoods"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(200), unique=True)
    ward_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"), index=True)
    # Where the name → ward pairing came from (the file's name): shown with the area when asked.
    source: Mapped[str] = mapped_column(String(300), default="")

    ward: Mapped[Area] = relationship()


class Postcode(Model):
    """A postcode (normalised "BS5 0HE") and the LSOA (2021) holding it, from the ONS postcode directory (ONSPD or
    NSPL); its ward is the LSOA's parent. Only postcodes of loaded LSOAs are kept. An observation given a postcode
    stores the LSOA, never the postcode."""

    __tablename__ = "postcodes"

    postcode: Mapped[str] = mapped_column(String(8), primary_key=True)
    lsoa_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"), index=True)

    lsoa: Mapped[Area] = relationship()


class OneTimeToken(Model):
    """An invitation or password-reset link. Only a hash of the token is stored; it works once, until it expires."""

    __tablename__ = "one_time_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[TokenPurpose] = mapped_column(str_enum(TokenPurpose))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(254))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    org_role: Mapped[OrgRole | None] = mapped_column(str_enum(OrgRole))
    platform_role: Mapped[PlatformRole | None] = mapped_column(str_enum(PlatformRole))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when a newer link of the same family (purpose and account) was issued or one of them was used.
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
    organisation: Mapped[Organisation | None] = relationship()


class UserSession(Model):
    """A signed-in session. The cookie holds a random id whose SHA-256 is stored here; every request looks it up,
    so signing out (here, elsewhere, or by an administrator) ends the session at once, copied cookies included."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the person last typed their password in this session (sign-in or confirming it for a sensitive change).
    authenticated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # How the second step was passed: totp, recovery_code, remembered_device, or none (no MFA on the account).
    second_factor: Mapped[str] = mapped_column(String(24), default="none")
    user_agent: Mapped[str] = mapped_column(String(80), default="")
    ip_prefix: Mapped[str] = mapped_column(String(64), default="")
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(32))

    user: Mapped[User] = relationship()

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class RecoveryCode(Model):
    """A one-time recovery code for signing in without the authenticator. Stored as an argon2id hash (salted)."""

    __tablename__ = "mfa_recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RememberedDevice(Model):
    """A browser that passed the second factor and asked to be remembered (at most 30 days). Its cookie holds a
    random value whose SHA-256 is stored here, bound to one account and revocable."""

    __tablename__ = "remembered_devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_agent: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEvent(Model):
    """Who did or read what, when. Carries ids and short facts, never observation text or personal data."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)

    actor: Mapped[User | None] = relationship()


class Job(Model):
    """A unit of background work whose progress the UI shows; tasks update it as they go.

    ``task`` and ``args`` say how to send it again, ``worker`` and ``heartbeat_at`` who runs it and whether they are
    still alive (see :mod:`webapp.jobs`: a job left "running" by a dead worker is queued again or failed).
    """

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status", "status"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    kind: Mapped[str] = mapped_column(String(64))
    status: Mapped[JobStatus] = mapped_column(str_enum(JobStatus), default=JobStatus.QUEUED)
    progress: Mapped[int] = mapped_column(default=0)
    message: Mapped[str] = mapped_column(String(500), default="")
    result: Mapped[dict] = mapped_column(JSON, default=dict)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    task: Mapped[str | None] = mapped_column(String(100))
    args: Mapped[list | None] = mapped_column(JSON)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    worker: Mapped[str | None] = mapped_column(String(200))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    # A job split into parts (one refit per partnership, :func:`webapp.jobs.fan_out`): each part is a job of its
    # own that any worker may take; ``label`` names the part on its parent's page.
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(200), default="")
