"""What the NLP package stores for both of its parts: embeddings of redacted text (read by the themes, computed by
the pipeline) and the pipeline's work leases. The themes' own tables are in :mod:`nlp.themes.models`; redaction
stores its results on the observations themselves (:class:`submissions.models.Observation`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from submissions.models import Observation
from webapp.extensions import Model
from webapp.models import UTCDateTime, utcnow


class ObservationEmbedding(Model):
    """The MiniLM vector of an observation's redacted text. Recomputed only when the model version changes."""

    __tablename__ = "observation_embeddings"
    __table_args__ = (UniqueConstraint("observation_id", "model_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    observation_id: Mapped[int] = mapped_column(ForeignKey("observations.id", ondelete="CASCADE"), index=True)
    model_name: Mapped[str] = mapped_column(String(100))
    model_version: Mapped[str] = mapped_column(String(100))
    # float32 little-endian, 384 values (nlp.embeddings.to_bytes / from_bytes).
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WorkLease(Model):
    """An observation a worker is redacting or theming now (:mod:`nlp.pipeline`), so that two workers never do the
    same one; ``attempts`` counts failed tries, which push ``expires_at`` further out each time."""

    __tablename__ = "nlp_work_leases"

    observation_id: Mapped[int] = mapped_column(
        ForeignKey("observations.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    owner: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    attempts: Mapped[int] = mapped_column(default=0)


# Observations still waiting for redaction, found at once however many are stored (a partial index; both SQLite and
# PostgreSQL have them). The pipeline's sweep asks this on every batch.
Index(
    "ix_observations_unredacted",
    Observation.__table__.c.id,
    sqlite_where=Observation.__table__.c.redacted_text.is_(None),
    postgresql_where=Observation.__table__.c.redacted_text.is_(None),
)
