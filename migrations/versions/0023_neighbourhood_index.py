"""A partnership's composite neighbourhood index and its versions (issue 19, part 1).

Reviewed: two new tables (neighbourhood_indexes, neighbourhood_index_versions); downgrade() drops exactly them.

Revision ID: 0023_neighbourhood_index
Revises: 0022_grants_beside_need
Create Date: 2026-12-01 16:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0023_neighbourhood_index"
down_revision = "0022_grants_beside_need"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "neighbourhood_indexes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partnership_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_neighbourhood_indexes_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["partnership_id"], ["partnerships.id"],
            name=op.f("fk_neighbourhood_indexes_partnership_id_partnerships"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_neighbourhood_indexes")),
    )  # fmt: skip
    with op.batch_alter_table("neighbourhood_indexes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_neighbourhood_indexes_partnership_id"), ["partnership_id"], unique=False)
    op.create_table(
        "neighbourhood_index_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("index_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("status", sa.Enum("draft", "published", name="indexstatus", native_enum=False, length=20),
                  nullable=False),
        sa.Column("level", sa.Enum("lsoa", "ward", "lad", "custom", name="arealevel", native_enum=False, length=32),
                  nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("draws", sa.Integer(), nullable=False),
        sa.Column("concentration", sa.Float(), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("published_by_id", sa.Integer(), nullable=True),
        sa.Column("published_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["index_id"], ["neighbourhood_indexes.id"],
            name=op.f("fk_neighbourhood_index_versions_index_id_neighbourhood_indexes"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_neighbourhood_index_versions_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["published_by_id"], ["users.id"], name=op.f("fk_neighbourhood_index_versions_published_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_neighbourhood_index_versions")),
        sa.UniqueConstraint("index_id", "number", name=op.f("uq_neighbourhood_index_versions_index_id_number")),
    )  # fmt: skip
    with op.batch_alter_table("neighbourhood_index_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_neighbourhood_index_versions_index_id"), ["index_id"], unique=False)


def downgrade():
    with op.batch_alter_table("neighbourhood_index_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_neighbourhood_index_versions_index_id"))
    op.drop_table("neighbourhood_index_versions")
    with op.batch_alter_table("neighbourhood_indexes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_neighbourhood_indexes_partnership_id"))
    op.drop_table("neighbourhood_indexes")
