"""Invitations a convenor sends to two organisations of the organisation network to get in touch.

Kept apart from :mod:`convening.models` (sessions and briefings): an invitation belongs to the network page
(:mod:`convening.network_views`), not to a session. It stores ids and a short note of the convenor's, never
observation text.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db

if TYPE_CHECKING:  # mypy cannot see db.Model, which Flask-SQLAlchemy makes at run time from this declarative base
    from webapp.extensions import Base as Model
else:
    Model = db.Model
from webapp.models import Organisation, Partnership, User, UTCDateTime, utcnow

NOTE_MAX = 500


class NetworkInvitation(Model):
    """A convenor's invitation to two member organisations of a partnership to connect (both are told by email)."""

    __tablename__ = "network_invitations"
    __table_args__ = (CheckConstraint("first_id <> second_id", name="two_organisations"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    partnership_id: Mapped[int] = mapped_column(ForeignKey("partnerships.id", ondelete="CASCADE"), index=True)
    first_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    second_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    note: Mapped[str] = mapped_column(String(NOTE_MAX), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # How many of the two organisations' admins the email went out to (0 when no email server works).
    sent_to: Mapped[int] = mapped_column(default=0)

    partnership: Mapped[Partnership] = relationship()
    first: Mapped[Organisation] = relationship(foreign_keys=[first_id])
    second: Mapped[Organisation] = relationship(foreign_keys=[second_id])
    created_by: Mapped[User | None] = relationship()
