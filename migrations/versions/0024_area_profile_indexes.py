"""Indexes for area profiles at a million observations (issue 17): the theme rows an area page reads come from two
covering indexes, hash-joined, without reading either table.

- ix_observations_tallies gains ``id`` as its last column: the theme rows (nlp.queries._assigned_rows) join the
  counted observations to their theme assignments by id, and now read every column they need from this index (as
  the category counts already did) instead of probing the table once per observation.
- ix_theme_assignments_model_theme gains ``observation_id``: an active model's assignments (theme and observation)
  are read from the index alone.

Each index is dropped and made again with the extra column (the same name, so the models and every query that
named it are unchanged); no new index, so writes cost what they did. At a million observations each takes a few
seconds to build.

Reviewed: two indexes re-made with one more column each; downgrade() makes them again as 0016 and the models had
them.

Revision ID: 0024_area_profile_indexes
Revises: 0023_neighbourhood_index
Create Date: 2026-12-01 16:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0024_area_profile_indexes"
down_revision = "0023_neighbourhood_index"
branch_labels = None
depends_on = None

TALLY_COLUMNS = [
    "partnership_id",
    "period_start",
    "area_id",
    "category_id",
    "kind",
    "sharing_level",
    "status",
    "organisation_id",
    "record_key",
]
COUNTED = sa.text("redacted_text IS NOT NULL")


def _tallies(columns: list[str]) -> None:
    op.drop_index("ix_observations_tallies", table_name="observations", sqlite_where=COUNTED, postgresql_where=COUNTED)
    op.create_index(
        "ix_observations_tallies", "observations", columns, unique=False, sqlite_where=COUNTED, postgresql_where=COUNTED
    )


def _assignments(columns: list[str]) -> None:
    op.drop_index("ix_theme_assignments_model_theme", table_name="theme_assignments")
    op.create_index("ix_theme_assignments_model_theme", "theme_assignments", columns, unique=False)


def upgrade():
    _tallies([*TALLY_COLUMNS, "id"])
    _assignments(["model_id", "theme_id", "observation_id"])


def downgrade():
    _assignments(["model_id", "theme_id"])
    _tallies(TALLY_COLUMNS)
