"""Refits across workers: a lock per partnership's refit, and jobs split into parts (one refit per partnership).

Reviewed: a new table (refit_locks) and two nullable/defaulted columns on jobs (parent_id, label), with
batch_alter_table for SQLite; downgrade() removes exactly what upgrade() adds.

Revision ID: 0020_refit_fanout
Revises: 0019_theme_corrections
Create Date: 2026-12-01 13:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0020_refit_fanout"
down_revision = "0019_theme_corrections"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "refit_locks",
        sa.Column("partnership_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=True),
        sa.Column("acquired_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partnership_id"],
            ["partnerships.id"],
            name=op.f("fk_refit_locks_partnership_id_partnerships"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("partnership_id", name=op.f("pk_refit_locks")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("label", sa.String(length=200), nullable=False, server_default=""))
        batch_op.create_index(batch_op.f("ix_jobs_parent_id"), ["parent_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_jobs_parent_id_jobs"), "jobs", ["parent_id"], ["id"], ondelete="CASCADE"
        )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        # The default was only for the rows already there; the model supplies it from now on.
        batch_op.alter_column("label", server_default=None)


def downgrade():
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_jobs_parent_id_jobs"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_jobs_parent_id"))
        batch_op.drop_column("label")
        batch_op.drop_column("parent_id")
    op.drop_table("refit_locks")
