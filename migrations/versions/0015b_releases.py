"""Indicator releases: stable keys for a publication and its measures across releases, the geography vintage and
the number of ranked areas of an indicator, a note on how a release date is known, and confidence intervals.

Reviewed: new columns have server defaults or are nullable, so existing rows stay valid. Existing imports of the
English Indices of Deprivation 2019 (title "English Indices of Deprivation 2019", as the importer names it) are
given their keys (dataset "iod"; measures "imd", "income", ...), LSOA vintage 2011 and 32,844 ranked areas, so the
pages keep finding the deprivation index after the upgrade; nothing else is guessed. downgrade() drops the columns
with batch_alter_table (SQLite).

Revision ID: 0015b_releases
Revises: 0015_vintages
Create Date: 2026-11-30 23:31:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015b_releases'
down_revision = '0015_vintages'
branch_labels = None
depends_on = None

IOD2019_KEYS = {
    'Index of Multiple Deprivation (IMD)': 'imd',
    'Income domain': 'income',
    'Employment domain': 'employment',
    'Education, Skills and Training domain': 'education',
    'Health Deprivation and Disability domain': 'health',
    'Crime domain': 'crime',
    'Barriers to Housing and Services domain': 'barriers',
    'Living Environment domain': 'environment',
}


def upgrade():
    with op.batch_alter_table('indicator_datasets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key', sa.String(length=60), server_default='', nullable=False))
        batch_op.add_column(sa.Column('release_note', sa.String(length=300), server_default='', nullable=False))
        batch_op.create_index(batch_op.f('ix_indicator_datasets_key'), ['key'], unique=False)
    with op.batch_alter_table('indicators', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key', sa.String(length=60), server_default='', nullable=False))
        batch_op.add_column(sa.Column('vintage', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('ranked_areas', sa.Integer(), nullable=True))
    with op.batch_alter_table('indicator_values', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lower', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('upper', sa.Float(), nullable=True))

    datasets = sa.table('indicator_datasets', sa.column('id', sa.Integer), sa.column('title', sa.String),
                        sa.column('key', sa.String))
    indicators = sa.table('indicators', sa.column('dataset_id', sa.Integer), sa.column('name', sa.String),
                          sa.column('key', sa.String), sa.column('vintage', sa.Integer),
                          sa.column('ranked_areas', sa.Integer), sa.column('level', sa.String))
    iod = datasets.c.title == 'English Indices of Deprivation 2019'
    op.execute(datasets.update().where(iod).values(key='iod'))
    ids = sa.select(datasets.c.id).where(iod).scalar_subquery()
    for name, key in IOD2019_KEYS.items():
        op.execute(
            indicators.update()
            .where(indicators.c.dataset_id.in_(ids), indicators.c.name == name, indicators.c.level == 'lsoa')
            .values(key=key, vintage=2011, ranked_areas=32844)
        )


def downgrade():
    with op.batch_alter_table('indicator_values', schema=None) as batch_op:
        batch_op.drop_column('upper')
        batch_op.drop_column('lower')
    with op.batch_alter_table('indicators', schema=None) as batch_op:
        batch_op.drop_column('ranked_areas')
        batch_op.drop_column('vintage')
        batch_op.drop_column('key')
    with op.batch_alter_table('indicator_datasets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_indicator_datasets_key'))
        batch_op.drop_column('release_note')
        batch_op.drop_column('key')
