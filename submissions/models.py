"""Observations (needs and assets seen by community groups and residents), their category taxonomy and API tokens.

An observation's raw ``text`` is seen only by the submitting organisation (or resident) and by moderators; everyone
else sees ``redacted_text``, written later by the NLP package. Until it is written the observation is shown to nobody
else (see :mod:`submissions.queries`).
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, SmallInteger, String, Text, UniqueConstraint, false, text
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.disclosure import SharingLevel, new_record_key
from webapp.extensions import Model
from webapp.models import Area, Organisation, Partnership, User, UTCDateTime, str_enum, utcnow

__all__ = ["SharingLevel"]  # defined with the disclosure rules (webapp.disclosure); re-exported for this package

TEXT_MIN = 10
TEXT_MAX = 5000
REF_MAX = 100


class LabelledEnum(enum.StrEnum):
    """A string enum whose members carry a label in users' words (``LABELS`` on the class)."""

    @property
    def label(self) -> str:
        return type(self).LABELS()[self.value]

    @classmethod
    def LABELS(cls) -> dict[str, str]:  # noqa: N802 - a class-level table, named like a constant
        return {m.value: m.value.replace("_", " ").capitalize() for m in cls}


class ObservationKind(LabelledEnum):
    NEED = "need"
    ASSET = "asset"

    @classmethod
    def LABELS(cls) -> dict[str, str]:  # noqa: N802
        return {"need": "A need", "asset": "An asset (something that helps)"}


class Trend(LabelledEnum):
    NEW = "new"
    WORSE = "worse"
    SAME = "same"
    BETTER = "better"
    UNKNOWN = "unknown"

    @classmethod
    def LABELS(cls) -> dict[str, str]:  # noqa: N802
        return {"new": "New", "worse": "Getting worse", "same": "About the same", "better": "Getting better",
                "unknown": "Don't know"}  # fmt: skip


class Source(LabelledEnum):
    FRONTLINE_CONTACT = "frontline_contact"
    SERVICE_DATA = "service_data"
    RESIDENT_VOICE = "resident_voice"
    SURVEY = "survey"
    OTHER = "other"


class Confidence(LabelledEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class ObservationStatus(LabelledEnum):
    SUBMITTED = "submitted"
    NEEDS_MODERATION = "needs_moderation"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


# An organisation's own observations are accepted as submitted; residents' ones once a moderator approved them.
LIVE_STATUSES = (ObservationStatus.SUBMITTED, ObservationStatus.APPROVED)


class PeriodPrecision(LabelledEnum):
    DAY = "day"
    MONTH = "month"


# Groups affected: a fixed list of slugs (stored as a JSON list on the observation).
GROUPS: dict[str, str] = {
    "children": "Children",
    "young_people": "Young people",
    "older_people": "Older people",
    "disabled_people": "Disabled people",
    "carers": "Carers",
    "refugees_migrants": "Refugees and migrants",
    "ethnic_minorities": "Ethnic minority communities",
    "lgbtq": "LGBTQ+ people",
    "families": "Families",
    "single_adults": "Single adults",
}

# The default taxonomy; admins can add categories (slug, name, description).
DEFAULT_CATEGORIES: tuple[tuple[str, str, str], ...] = (
    ("money-and-debt", "Money and debt", "Income, benefits, debt, the cost of living, fuel and energy bills."),
    ("food", "Food", "Food insecurity, food banks and pantries, school meals, healthy eating."),
    ("housing-and-homelessness", "Housing and homelessness",
     "Housing conditions (damp, repairs), rent, overcrowding, evictions, homelessness and rough sleeping."),
    ("physical-health", "Physical health", "Illness, access to GPs, hospitals and dentists, long-term conditions."),
    ("mental-health-and-wellbeing", "Mental health and wellbeing",
     "Anxiety, depression, stress, crisis support, waiting lists, wellbeing activities."),
    ("children-and-young-people", "Children and young people",
     "Childcare, youth provision, family support, activities for young people."),
    ("education-and-skills", "Education and skills",
     "Schools, exclusions, adult learning, English classes, digital skills."),
    ("work-and-employment", "Work and employment", "Jobs, insecure work, low pay, training and help into work."),
    ("safety-and-crime", "Safety and crime", "Crime, antisocial behaviour, exploitation, feeling safe."),
    ("domestic-abuse", "Domestic abuse", "Domestic abuse and violence, coercive control, support for survivors."),
    ("loneliness-and-isolation", "Loneliness and isolation", "Social isolation, loneliness, lack of contact."),
    ("transport-and-access", "Transport and access", "Buses, travel costs, getting to services, physical access."),
    ("environment-and-neighbourhood", "Environment and neighbourhood",
     "Green spaces, litter, fly-tipping, air quality, the state of streets and buildings."),
    ("community-activities-and-assets", "Community activities and assets",
     "Community groups, venues, volunteering, clubs and activities that help people."),
)  # fmt: skip


class Category(Model):
    """A category of the taxonomy. Configurable: admins add categories; the defaults are seeded by migration/demo."""

    __tablename__ = "observation_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<Category {self.slug}>"


TALLY_INDEX_COLUMNS = (
    "partnership_id",
    "period_start",
    "area_id",
    "category_id",
    "kind",
    "sharing_level",
    "status",
    "organisation_id",
    "record_key",
    # Last, so that the theme rows of an area page (nlp.themes.queries._assigned_rows) join the observations counted to
    # their theme assignments from this index alone (migration 0024_area_profile_indexes).
    "id",
)


class Observation(Model):
    """Something a group or resident has seen: a need or an asset, in an area, over a period."""

    __tablename__ = "observations"
    __table_args__ = (
        # A re-imported file with a reference column must not create duplicates.
        UniqueConstraint("organisation_id", "external_ref"),
        Index("ix_observations_partnership_status", "partnership_id", "status"),
        Index("ix_observations_org_created", "organisation_id", "created_at"),
        # Covering index of what released counts read (submissions.queries.partnership_observations and
        # tally_columns, grouped by area, category and kind): area pages count from it without reading the table.
        Index(
            "ix_observations_tallies",
            *TALLY_INDEX_COLUMNS,
            sqlite_where=text("redacted_text IS NOT NULL"),
            postgresql_where=text("redacted_text IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Null for residents' observations (signed-in residents and the public form).
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    # Null for the public form (no account) and for people later deleted.
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    partnership_id: Mapped[int | None] = mapped_column(ForeignKey("partnerships.id", ondelete="SET NULL"))
    kind: Mapped[ObservationKind] = mapped_column(str_enum(ObservationKind))
    category_id: Mapped[int] = mapped_column(ForeignKey("observation_categories.id", ondelete="RESTRICT"), index=True)
    text: Mapped[str] = mapped_column(Text)
    # Written by the NLP package (redaction of personal data). Null until then: nobody else sees the observation.
    redacted_text: Mapped[str | None] = mapped_column(Text)
    redacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    redaction_version: Mapped[str | None] = mapped_column(String(40))
    # Null means the partnership's whole area.
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="SET NULL"), index=True)
    # Set by NLP place detection; a person confirms it by setting area_id.
    suggested_area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="SET NULL"))
    period_start: Mapped[date] = mapped_column(Date, index=True)
    period_precision: Mapped[PeriodPrecision] = mapped_column(str_enum(PeriodPrecision), default=PeriodPrecision.DAY)
    people_affected: Mapped[int | None] = mapped_column()
    groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    trend: Mapped[Trend] = mapped_column(str_enum(Trend), default=Trend.UNKNOWN)
    source: Mapped[Source] = mapped_column(str_enum(Source), default=Source.FRONTLINE_CONTACT)
    confidence: Mapped[Confidence] = mapped_column(str_enum(Confidence), default=Confidence.MEDIUM)
    sharing_level: Mapped[SharingLevel] = mapped_column(str_enum(SharingLevel), default=SharingLevel.PARTNERSHIP)
    # Consent to quote (redacted) in the partnership's briefings and pages; ``consent_to_quote_funders`` also lets the
    # partnership's funders read the quote (funders' edition), allowed only when the sharing level includes funders.
    consent_to_quote: Mapped[bool] = mapped_column(default=False)
    consent_to_quote_funders: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The cell key method's random record key (0..255), drawn once when stored: every released count is perturbed by
    # the sum of its observations' keys (webapp.disclosure). Never shown, never changed.
    record_key: Mapped[int] = mapped_column(SmallInteger, default=new_record_key)
    external_ref: Mapped[str | None] = mapped_column(String(REF_MAX))
    status: Mapped[ObservationStatus] = mapped_column(str_enum(ObservationStatus), index=True)
    rejection_reason: Mapped[str | None] = mapped_column(String(500))
    moderated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    moderated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    organisation: Mapped[Organisation | None] = relationship()
    author: Mapped[User | None] = relationship(foreign_keys=[author_id])
    partnership: Mapped[Partnership | None] = relationship()
    category: Mapped[Category] = relationship(lazy="joined")
    area: Mapped[Area | None] = relationship(foreign_keys=[area_id])
    suggested_area: Mapped[Area | None] = relationship(foreign_keys=[suggested_area_id])

    def __repr__(self) -> str:
        return f"<Observation {self.id}>"

    @hybrid_property
    def is_live(self) -> bool:
        """Accepted: counts towards themes and figures once redacted."""
        return self.status in LIVE_STATUSES

    @is_live.inplace.expression
    @classmethod
    def _is_live_expression(cls):
        return cls.status.in_(LIVE_STATUSES)

    @hybrid_property
    def is_redacted(self) -> bool:
        return self.redacted_text is not None

    @is_redacted.inplace.expression
    @classmethod
    def _is_redacted_expression(cls):
        return cls.redacted_text.is_not(None)

    @property
    def is_resident(self) -> bool:
        return self.organisation_id is None

    @property
    def period_label(self) -> str:
        if self.period_precision is PeriodPrecision.MONTH:
            return self.period_start.strftime("%B %Y")
        return self.period_start.strftime("%-d %B %Y")

    @property
    def group_labels(self) -> list[str]:
        return [GROUPS.get(g, g) for g in self.groups or []]

    # State changes: each raises on an illegal move.

    def withdraw(self) -> None:
        if self.status is ObservationStatus.WITHDRAWN:
            raise ValueError("already withdrawn")
        self.status = ObservationStatus.WITHDRAWN

    def approve(self, moderator: User) -> None:
        if self.status is not ObservationStatus.NEEDS_MODERATION:
            raise ValueError(f"cannot approve an observation that is {self.status.value}")
        self.status, self.moderated_by_id, self.moderated_at = ObservationStatus.APPROVED, moderator.id, utcnow()
        self.rejection_reason = None

    def reject(self, moderator: User, reason: str) -> None:
        if self.status not in (ObservationStatus.NEEDS_MODERATION, *LIVE_STATUSES):
            raise ValueError(f"cannot reject an observation that is {self.status.value}")
        self.status, self.moderated_by_id, self.moderated_at = ObservationStatus.REJECTED, moderator.id, utcnow()
        self.rejection_reason = reason


class ApiToken(Model):
    """A per-organisation API token. Only its SHA-256 is stored; the token is shown once, when created."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters of the token, so people can tell their tokens apart in the list.
    prefix: Mapped[str] = mapped_column(String(12))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Every token expires (default one year, chosen at creation); a rotated token keeps working for a day.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id", ondelete="SET NULL"))

    organisation: Mapped[Organisation] = relationship()
    created_by: Mapped[User | None] = relationship()

    @property
    def expired(self) -> bool:
        return self.expires_at <= utcnow()

    @property
    def active(self) -> bool:
        return self.revoked_at is None and not self.expired
