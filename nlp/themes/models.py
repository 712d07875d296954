"""What the themes store: versioned theme models, themes, assignments, people's corrections and the refit lock.

A :class:`Theme` is the stable thing convenors curate (its id survives refits); a :class:`ThemeModel` is one fit
(a version); a :class:`ThemeAssignment` says which theme an observation belongs to under one version.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import Model, db
from webapp.models import Partnership, User, UTCDateTime, utcnow


class ThemeModel(Model):
    """One fit of themes (a version). ``partnership_id`` null: fitted across all partnerships' observations."""

    __tablename__ = "theme_models"
    __table_args__ = (Index("ix_theme_models_partnership_active", "partnership_id", "active"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    partnership_id: Mapped[int | None] = mapped_column(ForeignKey("partnerships.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(default=1)
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    embedding_model: Mapped[str] = mapped_column(String(100))
    corpus_size: Mapped[int] = mapped_column(default=0)
    theme_count: Mapped[int] = mapped_column(default=0)
    coherence: Mapped[float | None] = mapped_column()
    outlier_share: Mapped[float | None] = mapped_column()
    # Directory (relative to the instance folder) holding the safetensors serialisation.
    path: Mapped[str] = mapped_column(String(300))
    fitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    active: Mapped[bool] = mapped_column(default=False)
    # New and vanished theme ids compared with the previous version, shown to convenors.
    changes: Mapped[dict] = mapped_column(JSON, default=dict)

    partnership: Mapped[Partnership | None] = relationship()

    def __repr__(self) -> str:
        return f"<ThemeModel {self.id} v{self.version}>"


class Theme(Model):
    """A theme with a stable identity: convenors rename, merge, hide and sign it off; refits keep its id."""

    __tablename__ = "themes"

    id: Mapped[int] = mapped_column(primary_key=True)
    partnership_id: Mapped[int | None] = mapped_column(ForeignKey("partnerships.id", ondelete="CASCADE"), index=True)
    auto_label: Mapped[str] = mapped_column(String(200))
    auto_label_machine_made: Mapped[bool] = mapped_column(default=True)
    curated_label: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    # One machine-made sentence from the latest fit (nlp.themes.naming.describe); shown, marked machine-made, while no
    # person has written a description and the theme is not signed off.
    auto_description: Mapped[str] = mapped_column(Text, default="", server_default="")
    top_terms: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The centroid of the latest fit (float32 bytes): what the next refit matches against.
    centroid: Mapped[bytes | None] = mapped_column(LargeBinary)
    hidden: Mapped[bool] = mapped_column(default=False)
    signed_off_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    signed_off_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("themes.id", ondelete="SET NULL"))
    # The latest model version in which this theme was found; vanished themes keep an older one.
    last_model_id: Mapped[int | None] = mapped_column(ForeignKey("theme_models.id", ondelete="SET NULL"))
    first_model_id: Mapped[int | None] = mapped_column(ForeignKey("theme_models.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    partnership: Mapped[Partnership | None] = relationship()
    signed_off_by: Mapped[User | None] = relationship()
    merged_into: Mapped[Theme | None] = relationship(remote_side=[id])

    def __repr__(self) -> str:
        return f"<Theme {self.id}>"

    @property
    def label(self) -> str:
        return self.curated_label or self.auto_label

    @property
    def is_machine_label(self) -> bool:
        return self.curated_label is None and self.auto_label_machine_made

    @property
    def shown_description(self) -> str:
        return self.description or self.auto_description or ""

    @property
    def is_machine_description(self) -> bool:
        return not self.description and bool(self.auto_description) and not self.signed_off

    @property
    def signed_off(self) -> bool:
        return self.signed_off_at is not None

    def canonical(self) -> Theme:
        """Follow merges to the theme that now stands for this one."""
        seen, theme = set(), self
        while theme.merged_into is not None and theme.id not in seen:
            seen.add(theme.id)
            theme = theme.merged_into
        return theme


class ThemeAssignment(Model):
    """Which theme an observation belongs to under one model version (``theme_id`` null: unthemed)."""

    __tablename__ = "theme_assignments"
    __table_args__ = (
        UniqueConstraint("observation_id", "model_id"),
        # With the observation: an active model's assignments are read from the index alone (area and theme pages
        # join them to the observations counted, nlp.themes.queries._assigned_rows; migration
        # 0024_area_profile_indexes).
        Index("ix_theme_assignments_model_theme", "model_id", "theme_id", "observation_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    observation_id: Mapped[int] = mapped_column(ForeignKey("observations.id", ondelete="CASCADE"), index=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("theme_models.id", ondelete="CASCADE"))
    theme_id: Mapped[int | None] = mapped_column(ForeignKey("themes.id", ondelete="SET NULL"))
    is_outlier: Mapped[bool] = mapped_column(default=False)
    # Cosine similarity to the theme's centroid (to the nearest one for outliers).
    probability: Mapped[float] = mapped_column(default=0.0)
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Who made it: null for the machine (a fit or the pipeline), else the person whose correction it carries
    # (ThemeCorrection), with assigned_at the time of the correction.
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    theme: Mapped[Theme | None] = relationship()
    model: Mapped[ThemeModel] = relationship()
    assigned_by: Mapped[User | None] = relationship()

    @property
    def made_by_person(self) -> bool:
        return self.assigned_by_id is not None


class ThemeCorrection(Model):
    """A person's decision that an observation belongs to a theme (``theme_id`` null: to no theme), in one
    partnership's themes. It outlasts refits: every fit uses it as a partial label and stores it as the
    observation's assignment (nlp.themes.refit.refit)."""

    __tablename__ = "theme_corrections"
    __table_args__ = (UniqueConstraint("partnership_id", "observation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    partnership_id: Mapped[int] = mapped_column(ForeignKey("partnerships.id", ondelete="CASCADE"), index=True)
    observation_id: Mapped[int] = mapped_column(ForeignKey("observations.id", ondelete="CASCADE"), index=True)
    theme_id: Mapped[int | None] = mapped_column(ForeignKey("themes.id", ondelete="CASCADE"))
    made_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    made_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    theme: Mapped[Theme | None] = relationship()
    made_by: Mapped[User | None] = relationship()


def active_model(partnership_id: int | None) -> ThemeModel | None:
    stmt = select(ThemeModel).where(ThemeModel.active.is_(True))
    stmt = stmt.where(
        ThemeModel.partnership_id.is_(None) if partnership_id is None else ThemeModel.partnership_id == partnership_id
    )
    return db.session.scalar(stmt.order_by(ThemeModel.version.desc()))


class RefitLock(Model):
    """Who is refitting a partnership's themes now (:mod:`nlp.themes.refit_lock`), so that two workers never fit the
    same partnership at once. ``token`` is this holding's own: taking over, renewing, storing and releasing all check
    it. ``expires_at`` is pushed forward while the holder lives; a holder that died stops blocking when it passes."""

    __tablename__ = "refit_locks"

    partnership_id: Mapped[int] = mapped_column(
        ForeignKey("partnerships.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    owner: Mapped[str] = mapped_column(String(200))
    token: Mapped[str] = mapped_column(String(32))
    job_id: Mapped[str | None] = mapped_column(String(36))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
