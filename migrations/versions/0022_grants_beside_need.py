"""Grants beside need: imported 360Giving files, their grants, and where each grant's money is placed.

Reviewed: three new tables, nothing else changed; amounts in whole pence (BigInteger); downgrade() drops exactly
what upgrade() creates.

Revision ID: 0022_grants_beside_need
Revises: 0021_org_network
Create Date: 2026-12-01 16:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0022_grants_beside_need"
down_revision = "0021_org_network"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "grant_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partnership_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=300), nullable=False),
        sa.Column("layout", sa.String(length=10), nullable=False),
        sa.Column("imported_by_id", sa.Integer(), nullable=True),
        sa.Column("imported_at", sa.DateTime(), nullable=False),
        sa.Column("grant_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["imported_by_id"], ["users.id"], name=op.f("fk_grant_files_imported_by_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["partnership_id"],
            ["partnerships.id"],
            name=op.f("fk_grant_files_partnership_id_partnerships"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grant_files")),
    )
    op.create_index(op.f("ix_grant_files_partnership_id"), "grant_files", ["partnership_id"], unique=False)
    op.create_table(
        "grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("partnership_id", sa.Integer(), nullable=False),
        sa.Column("identifier", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("amount_pence", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("award_date", sa.Date(), nullable=False),
        sa.Column("funder_identifier", sa.String(length=200), nullable=False),
        sa.Column("funder_name", sa.String(length=300), nullable=False),
        sa.Column("recipient_identifier", sa.String(length=200), nullable=False),
        sa.Column("recipient_name", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["file_id"], ["grant_files.id"], name=op.f("fk_grants_file_id_grant_files"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["partnership_id"],
            ["partnerships.id"],
            name=op.f("fk_grants_partnership_id_partnerships"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grants")),
        sa.UniqueConstraint("partnership_id", "identifier", name=op.f("uq_grants_partnership_id_identifier")),
    )
    op.create_index(op.f("ix_grants_file_id"), "grants", ["file_id"], unique=False)
    op.create_table(
        "grant_places",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("grant_id", sa.Integer(), nullable=False),
        sa.Column("partnership_id", sa.Integer(), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.Column("ward_id", sa.Integer(), nullable=True),
        sa.Column("amount_pence", sa.BigInteger(), nullable=False),
        sa.Column("placed_by", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["area_id"], ["areas.id"], name=op.f("fk_grant_places_area_id_areas"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["grant_id"], ["grants.id"], name=op.f("fk_grant_places_grant_id_grants"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["partnership_id"],
            ["partnerships.id"],
            name=op.f("fk_grant_places_partnership_id_partnerships"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ward_id"], ["areas.id"], name=op.f("fk_grant_places_ward_id_areas"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grant_places")),
    )
    op.create_index(op.f("ix_grant_places_grant_id"), "grant_places", ["grant_id"], unique=False)
    op.create_index("ix_grant_places_partnership_ward", "grant_places", ["partnership_id", "ward_id"], unique=False)


def downgrade():
    op.drop_index("ix_grant_places_partnership_ward", table_name="grant_places")
    op.drop_index(op.f("ix_grant_places_grant_id"), table_name="grant_places")
    op.drop_table("grant_places")
    op.drop_index(op.f("ix_grants_file_id"), table_name="grants")
    op.drop_table("grants")
    op.drop_index(op.f("ix_grant_files_partnership_id"), table_name="grant_files")
    op.drop_table("grant_files")
