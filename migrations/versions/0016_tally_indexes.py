"""An index for the area pages' counts.

- ix_observations_tallies: a partial covering index (SQLite and PostgreSQL) on the observations that can be
  counted (redacted_text not null), with every column a released count filters, groups or sums on: partnership,
  period start, area, category, kind, sharing level, status, organisation and record key. An area page's counts for
  the area and every area above it are one grouped query (indicators.community), which PostgreSQL answers from this
  index alone.

Reviewed: one index, named as in the model; downgrade() drops exactly it.

Revision ID: 0016_tally_indexes
Revises: 0014_search (the head: 0012_reliability → 0014_search)
Create Date: 2026-12-01 09:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016_tally_indexes'
down_revision = '0014_search'
branch_labels = None
depends_on = None

TALLY_COLUMNS = [
    'partnership_id',
    'period_start',
    'area_id',
    'category_id',
    'kind',
    'sharing_level',
    'status',
    'organisation_id',
    'record_key',
]
COUNTED = sa.text('redacted_text IS NOT NULL')


def upgrade():
    op.create_index(
        'ix_observations_tallies',
        'observations',
        TALLY_COLUMNS,
        unique=False,
        sqlite_where=COUNTED,
        postgresql_where=COUNTED,
    )


def downgrade():
    op.drop_index('ix_observations_tallies', table_name='observations', sqlite_where=COUNTED, postgresql_where=COUNTED)
