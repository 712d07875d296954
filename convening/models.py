"""Partnership sessions, their briefings (a working draft of sections plus immutable published versions), decisions,
actions, and who read which briefing.

Themes come from the nlp package and observations from submissions; sessions and actions point at them with plain id
lists (JSON), so that this package owns no foreign key into a table whose shape is not ours to change, and erasing an
observation never fails on a constraint here (the erasure hook in :mod:`convening.erasure` cleans the lists).
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Column,
    Date,
    ForeignKey,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    inspect,
)
from sqlalchemy.orm import InstanceState, Mapped, mapped_column, relationship
from sqlalchemy.orm import Session as OrmSession

from webapp.disclosure import EDITIONS, Audience, released_with
from webapp.extensions import Model, db
from webapp.models import Organisation, Partnership, User, UTCDateTime, str_enum, utcnow


class SectionKind(enum.StrEnum):
    HEADLINES = "headlines"
    NEEDS_ASSETS = "needs_assets"
    INDICATORS = "indicators"
    MAP = "map"
    QUOTES = "quotes"
    GAPS = "gaps"
    GRANTS = "grants"
    ACTIONS = "actions"
    QUESTIONS = "questions"
    NETWORK = "network"
    CUSTOM = "custom"
    PROVENANCE = "provenance"
    INDEX = "index"

    @property
    def label(self) -> str:
        return {
            "headlines": "Headline changes",
            "needs_assets": "Needs and assets side by side",
            "indicators": "Indicator context",
            "map": "Map",
            "quotes": "In their words",
            "gaps": "Evidence gaps",
            "grants": "Grants beside need",
            "actions": "Actions carried over",
            "questions": "Questions for discussion",
            "network": "Organisation network",
            "custom": "Notes",
            "provenance": "Provenance",
            "index": "Neighbourhood index",
        }[self.value]


class ActionStatus(enum.StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    DROPPED = "dropped"

    @property
    def label(self) -> str:
        return {"open": "Open", "in_progress": "In progress", "done": "Done", "dropped": "Dropped"}[self.value]

    @property
    def is_open(self) -> bool:
        return self in (ActionStatus.OPEN, ActionStatus.IN_PROGRESS)


class ViewKind(enum.StrEnum):
    VIEW = "view"
    DOWNLOAD = "download"


session_organisations = Table(
    "convening_session_organisations",
    db.Model.metadata,
    Column("session_id", ForeignKey("convening_sessions.id", ondelete="CASCADE"), primary_key=True),
    Column("organisation_id", ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True),
)


class Session(Model):
    """A partnership meeting: when and where, what it looks at (its focus), its agenda and who attends."""

    __tablename__ = "convening_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    partnership_id: Mapped[int] = mapped_column(ForeignKey("partnerships.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    held_on: Mapped[date] = mapped_column(Date, index=True)
    place: Mapped[str] = mapped_column(String(300), default="")
    link: Mapped[str] = mapped_column(String(500), default="")
    # Focus: empty lists mean "the partnership's whole area / every theme / every category".
    focus_area_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    focus_theme_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    focus_category_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    period_start: Mapped[date | None] = mapped_column(Date)
    period_end: Mapped[date | None] = mapped_column(Date)
    agenda: Mapped[list[str]] = mapped_column(JSON, default=list)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    partnership: Mapped[Partnership] = relationship()
    attending: Mapped[list[Organisation]] = relationship(secondary=session_organisations, order_by="Organisation.name")
    briefing: Mapped[Briefing | None] = relationship(back_populates="session", cascade="all, delete-orphan")
    decisions: Mapped[list[Decision]] = relationship(
        back_populates="session", cascade="all, delete-orphan", order_by="Decision.id"
    )
    actions: Mapped[list[Action]] = relationship(
        back_populates="session", cascade="all, delete-orphan", order_by="Action.id"
    )

    def __repr__(self) -> str:
        return f"<Session {self.id}>"


class Briefing(Model):
    """The briefing of a session: a working draft (its sections) and the versions published from it."""

    __tablename__ = "briefings"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("convening_sessions.id", ondelete="CASCADE"), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    composed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # True when the draft differs from the latest published version (so publishing again makes a new version).
    changed_since_publish: Mapped[bool] = mapped_column(default=True)
    # What the composer counted, per edition: tallies (with their observations' ids, so an erasure can recount) that
    # every figure of the draft is released from (convening.composer). Empty until composed.
    facts: Mapped[dict | None] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    session: Mapped[Session] = relationship(back_populates="briefing")
    sections: Mapped[list[BriefingSection]] = relationship(
        back_populates="briefing", cascade="all, delete-orphan", order_by="BriefingSection.position"
    )
    versions: Mapped[list[BriefingVersion]] = relationship(
        back_populates="briefing", cascade="all, delete-orphan", order_by="BriefingVersion.number"
    )

    def __repr__(self) -> str:
        return f"<Briefing {self.id}>"

    @property
    def latest_version(self) -> BriefingVersion | None:
        return self.versions[-1] if self.versions else None

    @property
    def unreviewed_sections(self) -> list[BriefingSection]:
        return [s for s in self.sections if s.included and s.machine_written]

    def check_publishable(self) -> None:
        """Raise ValueError naming what stops publishing: machine-written text not yet reviewed, or no change."""
        if not any(s.included for s in self.sections):
            raise ValueError("The briefing has no sections to publish.")
        unreviewed = self.unreviewed_sections
        if unreviewed:
            names = ", ".join(f"“{s.title}”" for s in unreviewed)
            raise ValueError(f"Review or edit the machine-written sections before publishing: {names}.")
        if self.versions and not self.changed_since_publish:
            raise ValueError(f"Nothing changed since version {self.versions[-1].number} was published.")


class BriefingSection(Model):
    """A section of the draft. Machine-written text stays marked until a convenor edits or approves it."""

    __tablename__ = "briefing_sections"

    id: Mapped[int] = mapped_column(primary_key=True)
    briefing_id: Mapped[int] = mapped_column(ForeignKey("briefings.id", ondelete="CASCADE"), index=True)
    kind: Mapped[SectionKind] = mapped_column(str_enum(SectionKind))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(default=0)
    included: Mapped[bool] = mapped_column(default=True)
    machine_written: Mapped[bool] = mapped_column(default=True)
    # Structured material the composer drew on: chart specifications, the observation ids of quotes, figures.
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    briefing: Mapped[Briefing] = relationship(back_populates="sections")
    reviewed_by: Mapped[User | None] = relationship()

    @property
    def anchor(self) -> str:
        return f"section-{self.id or self.position}"

    @property
    def quoted_observation_ids(self) -> list[int]:
        return [int(q["observation_id"]) for q in (self.data or {}).get("quotes", [])]


class BriefingVersion(Model):
    """A published, numbered, immutable version: the composition as published, read in one edition per audience.

    ``content`` holds the composition (sections in order, the convenor's own text) and the facts every figure is
    released from (tallies per cell and edition: see :mod:`convening.composer`); each :class:`BriefingEdition` is
    rendered from it through the disclosure layer, so a change of k or of the perturbation table re-releases every
    edition alike. Only ``withdrawn_at``/``withdrawn_reason`` change after publishing, when the version must no
    longer be served (e.g. an erased observation was counted or quoted in it). Erasure is the one exception to an
    immutable ``content``: :meth:`erase_from_content` takes an erased observation out of a withdrawn version.
    """

    __tablename__ = "briefing_versions"
    __table_args__ = (UniqueConstraint("briefing_id", "number"),)

    MUTABLE = frozenset({"withdrawn_at", "withdrawn_reason"})

    id: Mapped[int] = mapped_column(primary_key=True)
    briefing_id: Mapped[int] = mapped_column(ForeignKey("briefings.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column()
    title: Mapped[str] = mapped_column(String(200))
    # The composition as published (format 2: sections and facts per edition, rendered when read); versions
    # published before editions existed hold the rendered partnership document (no "format" key) and no funders'
    # edition.
    content: Mapped[dict] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(Text, default="")
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # For the funders' library filters.
    partnership_id: Mapped[int] = mapped_column(ForeignKey("partnerships.id", ondelete="CASCADE"), index=True)
    area_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    theme_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    quoted_observation_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_reason: Mapped[str] = mapped_column(String(300), default="")

    briefing: Mapped[Briefing] = relationship(back_populates="versions")
    published_by: Mapped[User | None] = relationship()
    partnership: Mapped[Partnership] = relationship()
    contributions: Mapped[list[BriefingContribution]] = relationship(
        back_populates="version", cascade="all, delete-orphan"
    )
    editions: Mapped[list[BriefingEdition]] = relationship(
        back_populates="version", cascade="all, delete-orphan", order_by="BriefingEdition.audience"
    )

    def __repr__(self) -> str:
        return f"<BriefingVersion {self.briefing_id}.{self.number}>"

    @property
    def is_withdrawn(self) -> bool:
        return self.withdrawn_at is not None

    @property
    def has_editions(self) -> bool:
        """Published with an edition per audience (every version since editions exist)."""
        return (self.content or {}).get("format") == 2

    @property
    def audiences(self) -> tuple[Audience, ...]:
        """The audiences this version has an edition for (older versions: the partnership only)."""
        return EDITIONS if self.has_editions else (Audience.PARTNERSHIP,)

    def edition(self, audience: Audience) -> BriefingEdition | None:
        return next((e for e in self.editions if e.audience is audience), None)

    @property
    def pdf_pages(self) -> str:
        """The page counts of the editions' PDFs, in words (for messages)."""
        pages = [f"{e.audience.value} edition {e.pdf_pages} pages" for e in self.editions if e.pdf_pages]
        return "; ".join(pages) or "no PDF yet"

    @property
    def pdf_ready(self) -> bool:
        """Every edition's PDF is rendered (and the version is served)."""
        return not self.is_withdrawn and all(
            (e := self.edition(a)) is not None and e.pdf_sha256 is not None for a in self.audiences
        )

    def erase_from_content(self, content: dict, reason: str) -> None:
        """Store ``content`` (the published content less an erased observation's text) on a withdrawn version.

        The one change a published version's content may take: the law's right to erasure outranks immutability.
        """
        if self.withdrawn_at is None:
            raise ValueError("Withdraw a published version before erasing text from it.")
        self.content = content
        self.withdrawn_reason = reason[:300]
        self._erasure_pending = True


class BriefingEdition(Model):
    """One audience's edition of a published version: its PDF, and what its figures were released with.

    The edition's text is rendered from the version's content whenever it is read; its PDF is rendered once per
    release: when k or the perturbation table changes (``released_with`` differs from the layer's), the PDF is
    stale and is rendered again before it is served.
    """

    __tablename__ = "briefing_editions"
    __table_args__ = (UniqueConstraint("version_id", "audience"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("briefing_versions.id", ondelete="CASCADE"), index=True)
    audience: Mapped[Audience] = mapped_column(str_enum(Audience))
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    pdf_pages: Mapped[int | None] = mapped_column()
    pdf_rendered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # {"k": 5, "ptable": "<sha256 prefix>", "D": 4} of the PDF's release ({"legacy": true}: rendered before editions).
    released_with: Mapped[dict] = mapped_column(JSON, default=dict)

    version: Mapped[BriefingVersion] = relationship(back_populates="editions")

    def __repr__(self) -> str:
        return f"<BriefingEdition {self.version_id} {self.audience}>"

    @property
    def stale(self) -> bool:
        """The PDF was released with another k or perturbation table than the ones in force."""
        if self.pdf_sha256 is None:
            return True
        if (self.released_with or {}).get("legacy"):
            return False  # published before editions: its PDF is the document as it was published
        return {k: (self.released_with or {}).get(k) for k in ("k", "ptable")} != {
            k: v for k, v in released_with().items() if k in ("k", "ptable")
        }


class BriefingContribution(Model):
    """How many observations of an organisation a published version drew on ("your observations informed …"), as a
    tally (count and key sum) so that it is released like every other count."""

    __tablename__ = "briefing_contributions"

    version_id: Mapped[int] = mapped_column(ForeignKey("briefing_versions.id", ondelete="CASCADE"), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True)
    observations: Mapped[int] = mapped_column(default=0)
    key_sum: Mapped[int] = mapped_column(default=0, server_default="0")

    version: Mapped[BriefingVersion] = relationship(back_populates="contributions")
    organisation: Mapped[Organisation] = relationship()


class Decision(Model):
    __tablename__ = "convening_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("convening_sessions.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    session: Mapped[Session] = relationship(back_populates="decisions")


class Action(Model):
    """Something a member organisation agreed to do, by when; open ones reappear in the next session's briefing."""

    __tablename__ = "convening_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("convening_sessions.id", ondelete="CASCADE"), index=True)
    description: Mapped[str] = mapped_column(Text)
    owner_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="SET NULL"), index=True)
    due_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[ActionStatus] = mapped_column(str_enum(ActionStatus), default=ActionStatus.OPEN)
    theme_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    area_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    observation_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    session: Mapped[Session] = relationship(back_populates="actions")
    owner: Mapped[Organisation | None] = relationship()


class BriefingView(Model):
    """One reading or download of a published version: who (and their kind of organisation), how, when."""

    __tablename__ = "briefing_views"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("briefing_versions.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    organisation_kind: Mapped[str] = mapped_column(String(40), default="")
    how: Mapped[ViewKind] = mapped_column(str_enum(ViewKind))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    version: Mapped[BriefingVersion] = relationship()


@event.listens_for(OrmSession, "before_flush")
def _versions_are_immutable(session: OrmSession, flush_context, instances) -> None:
    """A published version's content never changes (erasure excepted); only its withdrawal may be recorded."""
    for obj in session.dirty:
        if not isinstance(obj, BriefingVersion):
            continue
        state: InstanceState[BriefingVersion] = inspect(obj)
        erasing = obj.__dict__.pop("_erasure_pending", False) and obj.withdrawn_at is not None
        for attr in state.mapper.column_attrs:
            if attr.key in BriefingVersion.MUTABLE or (erasing and attr.key == "content"):
                continue
            if state.attrs[attr.key].history.has_changes():
                raise ValueError(f"Published briefing versions cannot be changed ({attr.key}); publish a new version.")
