"""Geography vintages: which releases of the ONS geography an area belongs to, whether it is current, and the
best-fit bridge between vintages (the ONS LSOA 2011 → 2021 lookup with its change codes).

Reviewed: areas that exist before this revision carry no vintage and stay current (nothing is known about them;
loading a lookup again records its vintage). ``current`` gets a server default so existing rows need no update.
The change code is a one-letter string (no database enum type). downgrade() drops in reverse dependency order and
removes the column with batch_alter_table (SQLite).

Revision ID: 0015_vintages
Revises: 0013_security
Create Date: 2026-11-30 23:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015_vintages'
down_revision = "0013_security"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('areas', schema=None) as batch_op:
        batch_op.add_column(sa.Column('current', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.create_index(batch_op.f('ix_areas_current'), ['current'], unique=False)

    op.create_table('area_vintages',
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_area_vintages_area_id_areas'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('area_id', 'year', name=op.f('pk_area_vintages'))
    )
    with op.batch_alter_table('area_vintages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_area_vintages_year'), ['year'], unique=False)

    op.create_table('area_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('old_area_id', sa.Integer(), nullable=False),
    sa.Column('new_area_id', sa.Integer(), nullable=False),
    sa.Column('change', sa.Enum('U', 'S', 'M', 'X', name='areachangekind', native_enum=False, length=1), nullable=False),
    sa.Column('old_year', sa.Integer(), nullable=False),
    sa.Column('new_year', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['new_area_id'], ['areas.id'], name=op.f('fk_area_changes_new_area_id_areas'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['old_area_id'], ['areas.id'], name=op.f('fk_area_changes_old_area_id_areas'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_area_changes')),
    sa.UniqueConstraint('old_area_id', 'new_area_id', name=op.f('uq_area_changes_old_area_id_new_area_id'))
    )
    with op.batch_alter_table('area_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_area_changes_new_area_id'), ['new_area_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_area_changes_old_area_id'), ['old_area_id'], unique=False)


def downgrade():
    with op.batch_alter_table('area_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_area_changes_old_area_id'))
        batch_op.drop_index(batch_op.f('ix_area_changes_new_area_id'))
    op.drop_table('area_changes')
    with op.batch_alter_table('area_vintages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_area_vintages_year'))
    op.drop_table('area_vintages')
    with op.batch_alter_table('areas', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_areas_current'))
        batch_op.drop_column('current')
