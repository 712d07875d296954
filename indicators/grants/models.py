"""Grants from 360Giving files: the imported file, each grant, and where its money is placed.

Amounts are whole pence (integers: no floating-point money, and SQLite has no decimal type). A grant that names
several beneficiary locations is split equally between them (docs/grants.md); a grant to an individual keeps no
detail of the person (the standard allows ``recipientIndividual``; commintel stores "an individual").
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import Model
from webapp.models import Area, UTCDateTime, utcnow


class GrantFile(Model):
    """One imported 360Giving file, for one partnership: stored whole or not at all."""

    __tablename__ = "grant_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    partnership_id: Mapped[int] = mapped_column(ForeignKey("partnerships.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(300))
    layout: Mapped[str] = mapped_column(String(10))  # csv, xlsx or json
    imported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    grant_count: Mapped[int] = mapped_column(default=0)

    grants: Mapped[list[Grant]] = relationship(
        back_populates="file", cascade="all, delete-orphan", passive_deletes=True
    )


class Grant(Model):
    """A grant as published: identifiers, amount, award date, funder and recipient organisation."""

    __tablename__ = "grants"
    __table_args__ = (UniqueConstraint("partnership_id", "identifier"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("grant_files.id", ondelete="CASCADE"), index=True)
    partnership_id: Mapped[int] = mapped_column(ForeignKey("partnerships.id", ondelete="CASCADE"))
    identifier: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    amount_pence: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    award_date: Mapped[date] = mapped_column(Date)
    funder_identifier: Mapped[str] = mapped_column(String(200))
    funder_name: Mapped[str] = mapped_column(String(300))
    recipient_identifier: Mapped[str] = mapped_column(String(200), default="")
    recipient_name: Mapped[str] = mapped_column(String(300))

    file: Mapped[GrantFile] = relationship(back_populates="grants")
    places: Mapped[list[GrantPlace]] = relationship(
        back_populates="grant", cascade="all, delete-orphan", passive_deletes=True
    )


class GrantPlace(Model):
    """Where (part of) a grant's money goes: the area its location names, and the ward that area is in (None for a
    local authority: money for the whole authority is not attributed to wards)."""

    __tablename__ = "grant_places"
    __table_args__ = (Index("ix_grant_places_partnership_ward", "partnership_id", "ward_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("grants.id", ondelete="CASCADE"), index=True)
    partnership_id: Mapped[int] = mapped_column(ForeignKey("partnerships.id", ondelete="CASCADE"))
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"))
    ward_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"))
    amount_pence: Mapped[int] = mapped_column(BigInteger)
    placed_by: Mapped[str] = mapped_column(String(20))  # "location code" or "recipient postcode"

    grant: Mapped[Grant] = relationship(back_populates="places")
    area: Mapped[Area] = relationship(foreign_keys=[area_id])
