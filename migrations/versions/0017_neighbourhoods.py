"""A neighbourhood gazetteer: place names people use, each mapped to the ward holding it.

Reviewed: a new table only; nothing existing changes. downgrade() drops it.

Revision ID: 0017_neighbourhoods
Revises: 0016_tally_indexes
Create Date: 2026-12-01 10:25:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0017_neighbourhoods"
down_revision = "0016_tally_indexes"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "neighbourhoods",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("ward_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["ward_id"], ["areas.id"], name=op.f("fk_neighbourhoods_ward_id_areas"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_neighbourhoods")),
        sa.UniqueConstraint("key", name=op.f("uq_neighbourhoods_key")),
    )
    op.create_index(op.f("ix_neighbourhoods_ward_id"), "neighbourhoods", ["ward_id"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_neighbourhoods_ward_id"), table_name="neighbourhoods")
    op.drop_table("neighbourhoods")
