"""A partnership's composite neighbourhood index and its versions (see docs/neighbourhood-index.md).

An index is a named family of versions. A version holds the whole definition (level, standardisation, domains,
indicators with their direction and weight, the optional community domain) and the seed of its stability report.
Like a briefing, a version is a draft until published; once published it never changes (:meth:`IndexVersion
.check_editable` raises): editing a published index makes a new draft. Publishing freezes the indicator values the
version is computed from (``snapshot``), so a later re-import of a release does not change what was published.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import Model
from webapp.models import AreaLevel, Partnership, User, UTCDateTime, str_enum, utcnow


class IndexStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"

    @property
    def label(self) -> str:
        return {"draft": "Draft", "published": "Published"}[self.value]


class NeighbourhoodIndex(Model):
    __tablename__ = "neighbourhood_indexes"

    id: Mapped[int] = mapped_column(primary_key=True)
    partnership_id: Mapped[int] = mapped_column(ForeignKey("partnerships.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    partnership: Mapped[Partnership] = relationship()
    versions: Mapped[list[IndexVersion]] = relationship(
        back_populates="index", cascade="all, delete-orphan", order_by="IndexVersion.number"
    )

    def __repr__(self) -> str:
        return f"<NeighbourhoodIndex {self.id}>"

    @property
    def latest(self) -> IndexVersion | None:
        return self.versions[-1] if self.versions else None

    @property
    def published(self) -> IndexVersion | None:
        """The latest published version (what members and funders read)."""
        return next((v for v in reversed(self.versions) if v.status is IndexStatus.PUBLISHED), None)


class IndexVersion(Model):
    __tablename__ = "neighbourhood_index_versions"
    __table_args__ = (UniqueConstraint("index_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    index_id: Mapped[int] = mapped_column(ForeignKey("neighbourhood_indexes.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(default=1)
    status: Mapped[IndexStatus] = mapped_column(str_enum(IndexStatus, length=20), default=IndexStatus.DRAFT)
    level: Mapped[AreaLevel] = mapped_column(str_enum(AreaLevel))
    method: Mapped[str] = mapped_column(String(20), default="zscore")  # indicators.index_method.METHODS
    # {"domains": [{"name", "weight", "indicators": [{"id", "direction", "weight"}]}],
    #  "community": {"theme_id", "weight", "name"} | null}
    definition: Mapped[dict] = mapped_column(JSON, default=dict)
    # The stability report's random weightings: how many, how tightly around the chosen weights, from which seed.
    seed: Mapped[int] = mapped_column(default=0)
    draws: Mapped[int] = mapped_column(default=1000)
    concentration: Mapped[float] = mapped_column(Float, default=20.0)
    # Frozen at publication: {"values": {indicator id: {area id: value}}, "sources": [...]} (empty for a draft,
    # which reads the values as they are now).
    snapshot: Mapped[dict] = mapped_column(JSON, default=dict)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    index: Mapped[NeighbourhoodIndex] = relationship(back_populates="versions")
    published_by: Mapped[User | None] = relationship(foreign_keys=[published_by_id])

    def __repr__(self) -> str:
        return f"<IndexVersion {self.index_id} v{self.number} {self.status.value}>"

    @property
    def is_published(self) -> bool:
        return self.status is IndexStatus.PUBLISHED

    def check_editable(self) -> None:
        if self.is_published:
            raise ValueError(f"Version {self.number} is published and cannot change: edit it to make a new draft.")

    def publish(self, actor: User | None, snapshot: dict) -> None:
        """Freeze the version with the values it is computed from; raises if it is already published."""
        if self.is_published:
            raise ValueError(f"Version {self.number} is already published.")
        self.snapshot = snapshot
        self.status = IndexStatus.PUBLISHED
        self.published_by_id = actor.id if actor is not None else None
        self.published_at = utcnow()

    @property
    def domains(self) -> list[dict]:
        return list((self.definition or {}).get("domains", []))

    @property
    def community(self) -> dict | None:
        return (self.definition or {}).get("community") or None

    @property
    def indicator_ids(self) -> list[int]:
        return [int(i["id"]) for d in self.domains for i in d.get("indicators", [])]
