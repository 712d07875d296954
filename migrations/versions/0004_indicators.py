"""Indicators: official dataset releases, their indicators, and values per area and period.

Reviewed: enums are strings (no database enum types), timestamps plain DateTime (naive UTC), constraints named by
the metadata naming convention; a value is unique per (indicator, area, period key), which is what makes a
re-import of a release replace rather than duplicate. downgrade() drops in reverse dependency order.

Revision ID: 0004_indicators
Revises: 0003_themes
Create Date: 2026-11-23 19:56:58.273361

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004_indicators'
down_revision = '0003_themes'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('indicator_datasets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('publisher', sa.String(length=200), nullable=False),
    sa.Column('licence', sa.String(length=200), nullable=False),
    sa.Column('source_url', sa.String(length=1000), nullable=False),
    sa.Column('release_date', sa.Date(), nullable=True),
    sa.Column('methodology_note', sa.Text(), nullable=False),
    sa.Column('release_key', sa.String(length=400), nullable=False),
    sa.Column('imported_at', sa.DateTime(), nullable=False),
    sa.Column('source_filename', sa.String(length=300), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_indicator_datasets')),
    sa.UniqueConstraint('release_key', name=op.f('uq_indicator_datasets_release_key'))
    )
    op.create_table('indicators',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('unit', sa.String(length=60), nullable=False),
    sa.Column('polarity', sa.Enum('worse', 'better', 'neutral', name='polarity', native_enum=False, length=32), nullable=False),
    sa.Column('value_kind', sa.Enum('count', 'rate', 'score', 'rank', name='valuekind', native_enum=False, length=32), nullable=False),
    sa.Column('level', sa.Enum('lsoa', 'ward', 'lad', 'custom', name='arealevel', native_enum=False, length=32), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['indicator_datasets.id'], name=op.f('fk_indicators_dataset_id_indicator_datasets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_indicators')),
    sa.UniqueConstraint('dataset_id', 'name', name=op.f('uq_indicators_dataset_id_name'))
    )
    with op.batch_alter_table('indicators', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_indicators_dataset_id'), ['dataset_id'], unique=False)

    op.create_table('indicator_values',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('indicator_id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('period_key', sa.String(length=20), nullable=False),
    sa.Column('period_kind', sa.Enum('year', 'quarter', 'month', 'financial_year', 'academic_year', name='periodkind', native_enum=False, length=20), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('rank', sa.Integer(), nullable=True),
    sa.Column('decile', sa.Integer(), nullable=True),
    sa.Column('suppressed', sa.Boolean(), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_indicator_values_area_id_areas'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['indicator_id'], ['indicators.id'], name=op.f('fk_indicator_values_indicator_id_indicators'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_indicator_values')),
    sa.UniqueConstraint('indicator_id', 'area_id', 'period_key', name=op.f('uq_indicator_values_indicator_id_area_id_period_key'))
    )
    with op.batch_alter_table('indicator_values', schema=None) as batch_op:
        batch_op.create_index('ix_indicator_values_area_indicator', ['area_id', 'indicator_id'], unique=False)



def downgrade():
    with op.batch_alter_table('indicator_values', schema=None) as batch_op:
        batch_op.drop_index('ix_indicator_values_area_indicator')

    op.drop_table('indicator_values')
    with op.batch_alter_table('indicators', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_indicators_dataset_id'))

    op.drop_table('indicators')
    op.drop_table('indicator_datasets')
