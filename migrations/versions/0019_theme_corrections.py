"""Theme corrections (issue 16): people's moves of observations between themes, kept across refits; who made each
assignment; the machine-made description of a theme.

Reviewed: timestamps are plain DateTime (naive UTC, as in 0003), no app imports; one new table and two new nullable/defaulted columns; nothing existing changes meaning (every existing
assignment was made by the machine: assigned_by_id null). downgrade() drops them.

Revision ID: 0019_theme_corrections
Revises: 0018_postcodes
Create Date: 2026-12-01 12:50:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0019_theme_corrections"
down_revision = "0018_postcodes"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "theme_corrections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partnership_id", sa.Integer(), nullable=False),
        sa.Column("observation_id", sa.Integer(), nullable=False),
        sa.Column("theme_id", sa.Integer(), nullable=True),
        sa.Column("made_by_id", sa.Integer(), nullable=True),
        sa.Column("made_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["partnership_id"], ["partnerships.id"],
                                name=op.f("fk_theme_corrections_partnership_id_partnerships"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["observation_id"], ["observations.id"],
                                name=op.f("fk_theme_corrections_observation_id_observations"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["theme_id"], ["themes.id"], name=op.f("fk_theme_corrections_theme_id_themes"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["made_by_id"], ["users.id"], name=op.f("fk_theme_corrections_made_by_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_theme_corrections")),
        sa.UniqueConstraint("partnership_id", "observation_id",
                            name=op.f("uq_theme_corrections_partnership_id_observation_id")),
    )  # fmt: skip
    op.create_index(op.f("ix_theme_corrections_partnership_id"), "theme_corrections", ["partnership_id"])
    op.create_index(op.f("ix_theme_corrections_observation_id"), "theme_corrections", ["observation_id"])
    with op.batch_alter_table("theme_assignments") as batch:
        batch.add_column(sa.Column("assigned_by_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_theme_assignments_assigned_by_id_users"), "users", ["assigned_by_id"], ["id"],
            ondelete="SET NULL",
        )  # fmt: skip
    with op.batch_alter_table("themes") as batch:
        batch.add_column(sa.Column("auto_description", sa.Text(), nullable=False, server_default=""))


def downgrade():
    with op.batch_alter_table("themes") as batch:
        batch.drop_column("auto_description")
    with op.batch_alter_table("theme_assignments") as batch:
        batch.drop_constraint(batch.f("fk_theme_assignments_assigned_by_id_users"), type_="foreignkey")
        batch.drop_column("assigned_by_id")
    op.drop_index(op.f("ix_theme_corrections_observation_id"), table_name="theme_corrections")
    op.drop_index(op.f("ix_theme_corrections_partnership_id"), table_name="theme_corrections")
    op.drop_table("theme_corrections")
