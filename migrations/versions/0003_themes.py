"""Themes: observation embeddings, versioned theme models, themes with a stable identity, and assignments.

Reviewed: timestamps are plain DateTime (naive UTC; webapp.models.UTCDateTime adds the zone on read), constraint
names follow the metadata naming convention, no app imports; downgrade() drops in reverse dependency order.

Revision ID: 0003_themes
Revises: 0002_observations
"""

from alembic import op
import sqlalchemy as sa


revision = "0003_themes"
down_revision = "0002_observations"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "observation_embeddings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("observation_id", sa.Integer(), nullable=False),
        sa.Column("model_name", sa.String(length=100), nullable=False),
        sa.Column("model_version", sa.String(length=100), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["observation_id"], ["observations.id"],
            name=op.f("fk_observation_embeddings_observation_id_observations"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observation_embeddings")),
        sa.UniqueConstraint(
            "observation_id", "model_version", name=op.f("uq_observation_embeddings_observation_id_model_version")
        ),
    )
    op.create_index(
        op.f("ix_observation_embeddings_observation_id"), "observation_embeddings", ["observation_id"], unique=False
    )
    op.create_table(
        "theme_models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partnership_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("embedding_model", sa.String(length=100), nullable=False),
        sa.Column("corpus_size", sa.Integer(), nullable=False),
        sa.Column("theme_count", sa.Integer(), nullable=False),
        sa.Column("coherence", sa.Float(), nullable=True),
        sa.Column("outlier_share", sa.Float(), nullable=True),
        sa.Column("path", sa.String(length=300), nullable=False),
        sa.Column("fitted_at", sa.DateTime(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partnership_id"], ["partnerships.id"],
            name=op.f("fk_theme_models_partnership_id_partnerships"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_theme_models")),
    )
    op.create_index("ix_theme_models_partnership_active", "theme_models", ["partnership_id", "active"], unique=False)
    op.create_table(
        "themes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partnership_id", sa.Integer(), nullable=True),
        sa.Column("auto_label", sa.String(length=200), nullable=False),
        sa.Column("auto_label_machine_made", sa.Boolean(), nullable=False),
        sa.Column("curated_label", sa.String(length=200), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("top_terms", sa.JSON(), nullable=False),
        sa.Column("centroid", sa.LargeBinary(), nullable=True),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("signed_off_by_id", sa.Integer(), nullable=True),
        sa.Column("signed_off_at", sa.DateTime(), nullable=True),
        sa.Column("merged_into_id", sa.Integer(), nullable=True),
        sa.Column("last_model_id", sa.Integer(), nullable=True),
        sa.Column("first_model_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partnership_id"], ["partnerships.id"], name=op.f("fk_themes_partnership_id_partnerships"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["signed_off_by_id"], ["users.id"], name=op.f("fk_themes_signed_off_by_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["merged_into_id"], ["themes.id"], name=op.f("fk_themes_merged_into_id_themes"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["last_model_id"], ["theme_models.id"], name=op.f("fk_themes_last_model_id_theme_models"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["first_model_id"], ["theme_models.id"], name=op.f("fk_themes_first_model_id_theme_models"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_themes")),
    )
    op.create_index(op.f("ix_themes_partnership_id"), "themes", ["partnership_id"], unique=False)
    op.create_table(
        "theme_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("observation_id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("theme_id", sa.Integer(), nullable=True),
        sa.Column("is_outlier", sa.Boolean(), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("assigned_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["observation_id"], ["observations.id"],
            name=op.f("fk_theme_assignments_observation_id_observations"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["model_id"], ["theme_models.id"], name=op.f("fk_theme_assignments_model_id_theme_models"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["theme_id"], ["themes.id"], name=op.f("fk_theme_assignments_theme_id_themes"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_theme_assignments")),
        sa.UniqueConstraint("observation_id", "model_id", name=op.f("uq_theme_assignments_observation_id_model_id")),
    )
    op.create_index(
        op.f("ix_theme_assignments_observation_id"), "theme_assignments", ["observation_id"], unique=False
    )
    op.create_index("ix_theme_assignments_model_theme", "theme_assignments", ["model_id", "theme_id"], unique=False)


def downgrade():
    op.drop_index("ix_theme_assignments_model_theme", table_name="theme_assignments")
    op.drop_index(op.f("ix_theme_assignments_observation_id"), table_name="theme_assignments")
    op.drop_table("theme_assignments")
    op.drop_index(op.f("ix_themes_partnership_id"), table_name="themes")
    op.drop_table("themes")
    op.drop_index("ix_theme_models_partnership_active", table_name="theme_models")
    op.drop_table("theme_models")
    op.drop_index(op.f("ix_observation_embeddings_observation_id"), table_name="observation_embeddings")
    op.drop_table("observation_embeddings")
