"""Postcodes: the ONS postcode directory's postcode → LSOA (2021) pairs for the loaded LSOAs.

Reviewed: a new table only; nothing existing changes. downgrade() drops it.

Revision ID: 0018_postcodes
Revises: 0017_neighbourhoods
Create Date: 2026-12-01 10:40:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0018_postcodes"
down_revision = "0017_neighbourhoods"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "postcodes",
        sa.Column("postcode", sa.String(length=8), nullable=False),
        sa.Column("lsoa_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["lsoa_id"], ["areas.id"], name=op.f("fk_postcodes_lsoa_id_areas"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("postcode", name=op.f("pk_postcodes")),
    )
    op.create_index(op.f("ix_postcodes_lsoa_id"), "postcodes", ["lsoa_id"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_postcodes_lsoa_id"), table_name="postcodes")
    op.drop_table("postcodes")
