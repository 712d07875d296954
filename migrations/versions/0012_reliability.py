"""Reliability: jobs remember how to run again and who runs them; observation leases for the NLP pipeline; an index
of the observations still waiting for redaction.

- jobs: task, args (to send a job again), queued_at, worker, heartbeat_at, attempts (to tell a job whose worker died
  from one still running), and an index on status (the recovery sweep looks for RUNNING and QUEUED jobs).
- nlp_work_leases: which observation a worker is redacting or theming now (one row while it does; none otherwise).
- ix_observations_unredacted: a partial index (SQLite and PostgreSQL) on observations whose redacted_text is null.

Reviewed: timestamps plain DateTime (naive UTC, as everywhere), names from the metadata naming convention, no app
imports; batch_alter_table for SQLite; downgrade() removes exactly what upgrade() adds.

Revision ID: 0012_reliability
Revises: 0010_disclosure
"""

from alembic import op
import sqlalchemy as sa


revision = "0012_reliability"
down_revision = "0010_disclosure"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("task", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("args", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("queued_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("worker", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("heartbeat_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_index("ix_jobs_status", ["status"], unique=False)
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        # The default was only for the rows already there; the model supplies it from now on.
        batch_op.alter_column("attempts", server_default=None)

    op.create_table(
        "nlp_work_leases",
        sa.Column("observation_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["observation_id"], ["observations.id"],
            name=op.f("fk_nlp_work_leases_observation_id_observations"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("observation_id", name=op.f("pk_nlp_work_leases")),
    )
    with op.batch_alter_table("nlp_work_leases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_nlp_work_leases_expires_at"), ["expires_at"], unique=False)

    op.create_index(
        "ix_observations_unredacted",
        "observations",
        ["id"],
        unique=False,
        sqlite_where=sa.text("redacted_text IS NULL"),
        postgresql_where=sa.text("redacted_text IS NULL"),
    )


def downgrade():
    op.drop_index(
        "ix_observations_unredacted",
        table_name="observations",
        sqlite_where=sa.text("redacted_text IS NULL"),
        postgresql_where=sa.text("redacted_text IS NULL"),
    )
    with op.batch_alter_table("nlp_work_leases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_nlp_work_leases_expires_at"))
    op.drop_table("nlp_work_leases")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_status")
        batch_op.drop_column("attempts")
        batch_op.drop_column("heartbeat_at")
        batch_op.drop_column("worker")
        batch_op.drop_column("queued_at")
        batch_op.drop_column("args")
        batch_op.drop_column("task")
