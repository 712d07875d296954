"""The organisation network: organisations' consent to be named in it, and convenors' invitations to connect.

Reviewed: one boolean column on organisations (false for every existing organisation: nobody is named until one of
its admins agrees) and a new table (network_invitations); batch_alter_table for SQLite; downgrade() removes exactly
what upgrade() adds.

Revision ID: 0021_org_network
Revises: 0020_refit_fanout
Create Date: 2026-12-01 16:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0021_org_network"
down_revision = "0020_refit_fanout"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("network_named", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "network_invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partnership_id", sa.Integer(), nullable=False),
        sa.Column("first_id", sa.Integer(), nullable=False),
        sa.Column("second_id", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_to", sa.Integer(), nullable=False),
        sa.CheckConstraint("first_id <> second_id", name=op.f("ck_network_invitations_two_organisations")),
        sa.ForeignKeyConstraint(
            ["partnership_id"],
            ["partnerships.id"],
            name=op.f("fk_network_invitations_partnership_id_partnerships"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["first_id"],
            ["organisations.id"],
            name=op.f("fk_network_invitations_first_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["second_id"],
            ["organisations.id"],
            name=op.f("fk_network_invitations_second_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_network_invitations_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_invitations")),
    )
    with op.batch_alter_table("network_invitations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_network_invitations_partnership_id"), ["partnership_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_network_invitations_first_id"), ["first_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_network_invitations_second_id"), ["second_id"], unique=False)


def downgrade():
    with op.batch_alter_table("network_invitations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_network_invitations_second_id"))
        batch_op.drop_index(batch_op.f("ix_network_invitations_first_id"))
        batch_op.drop_index(batch_op.f("ix_network_invitations_partnership_id"))
    op.drop_table("network_invitations")
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_column("network_named")
