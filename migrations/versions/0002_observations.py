"""Observations: the category taxonomy (seeded with the 14 defaults), observations and per-organisation API tokens.

Reviewed: timestamps are plain DateTime (naive UTC; webapp.models.UTCDateTime adds the zone on read), enums are
strings without database enum types, constraint names come from the metadata naming convention, the seed rows are
written out here (no app imports) and downgrade() drops in reverse dependency order.

Revision ID: 0002_observations
Revises: 0001_foundation
Create Date: 2026-11-23 19:53:46.307430

"""

from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0002_observations"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

# The default taxonomy at the time of this revision (submissions.models.DEFAULT_CATEGORIES); admins add more.
DEFAULT_CATEGORIES = (
    ("money-and-debt", "Money and debt", "Income, benefits, debt, the cost of living, fuel and energy bills."),
    ("food", "Food", "Food insecurity, food banks and pantries, school meals, healthy eating."),
    (
        "housing-and-homelessness",
        "Housing and homelessness",
        "Housing conditions (damp, repairs), rent, overcrowding, evictions, homelessness and rough sleeping.",
    ),
    ("physical-health", "Physical health", "Illness, access to GPs, hospitals and dentists, long-term conditions."),
    (
        "mental-health-and-wellbeing",
        "Mental health and wellbeing",
        "Anxiety, depression, stress, crisis support, waiting lists, wellbeing activities.",
    ),
    (
        "children-and-young-people",
        "Children and young people",
        "Childcare, youth provision, family support, activities for young people.",
    ),
    (
        "education-and-skills",
        "Education and skills",
        "Schools, exclusions, adult learning, English classes, digital skills.",
    ),
    ("work-and-employment", "Work and employment", "Jobs, insecure work, low pay, training and help into work."),
    ("safety-and-crime", "Safety and crime", "Crime, antisocial behaviour, exploitation, feeling safe."),
    ("domestic-abuse", "Domestic abuse", "Domestic abuse and violence, coercive control, support for survivors."),
    ("loneliness-and-isolation", "Loneliness and isolation", "Social isolation, loneliness, lack of contact."),
    ("transport-and-access", "Transport and access", "Buses, travel costs, getting to services, physical access."),
    (
        "environment-and-neighbourhood",
        "Environment and neighbourhood",
        "Green spaces, litter, fly-tipping, air quality, the state of streets and buildings.",
    ),
    (
        "community-activities-and-assets",
        "Community activities and assets",
        "Community groups, venues, volunteering, clubs and activities that help people.",
    ),
)


def upgrade():
    categories = op.create_table(
        "observation_categories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observation_categories")),
        sa.UniqueConstraint("name", name=op.f("uq_observation_categories_name")),
        sa.UniqueConstraint("slug", name=op.f("uq_observation_categories_slug")),
    )
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    op.bulk_insert(
        categories,
        [
            {
                "slug": slug,
                "name": name,
                "description": description,
                "position": position,
                "active": True,
                "created_at": now,
            }
            for position, (slug, name, description) in enumerate(DEFAULT_CATEGORIES)
        ],
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=12), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_api_tokens_created_by_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_api_tokens_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_organisation_id"), ["organisation_id"], unique=False)

    op.create_table(
        "observations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("partnership_id", sa.Integer(), nullable=True),
        sa.Column(
            "kind", sa.Enum("need", "asset", name="observationkind", native_enum=False, length=32), nullable=False
        ),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("redacted_text", sa.Text(), nullable=True),
        sa.Column("redacted_at", sa.DateTime(), nullable=True),
        sa.Column("redaction_version", sa.String(length=40), nullable=True),
        sa.Column("area_id", sa.Integer(), nullable=True),
        sa.Column("suggested_area_id", sa.Integer(), nullable=True),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column(
            "period_precision",
            sa.Enum("day", "month", name="periodprecision", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("people_affected", sa.Integer(), nullable=True),
        sa.Column("groups", sa.JSON(), nullable=False),
        sa.Column(
            "trend",
            sa.Enum("new", "worse", "same", "better", "unknown", name="trend", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column(
            "source",
            sa.Enum(
                "frontline_contact",
                "service_data",
                "resident_voice",
                "survey",
                "other",
                name="source",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "confidence",
            sa.Enum("low", "medium", "high", name="confidence", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column(
            "sharing_level",
            sa.Enum(
                "org_only",
                "partnership",
                "funders_aggregate",
                "public_aggregate",
                name="sharinglevel",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("consent_to_quote", sa.Boolean(), nullable=False),
        sa.Column("external_ref", sa.String(length=100), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "submitted",
                "needs_moderation",
                "approved",
                "rejected",
                "withdrawn",
                name="observationstatus",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("rejection_reason", sa.String(length=500), nullable=True),
        sa.Column("moderated_by_id", sa.Integer(), nullable=True),
        sa.Column("moderated_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["area_id"], ["areas.id"], name=op.f("fk_observations_area_id_areas"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_observations_author_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["observation_categories.id"],
            name=op.f("fk_observations_category_id_observation_categories"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["moderated_by_id"], ["users.id"], name=op.f("fk_observations_moderated_by_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_observations_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["partnership_id"],
            ["partnerships.id"],
            name=op.f("fk_observations_partnership_id_partnerships"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["suggested_area_id"],
            ["areas.id"],
            name=op.f("fk_observations_suggested_area_id_areas"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observations")),
        sa.UniqueConstraint(
            "organisation_id", "external_ref", name=op.f("uq_observations_organisation_id_external_ref")
        ),
    )
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_observations_area_id"), ["area_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_observations_author_id"), ["author_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_observations_category_id"), ["category_id"], unique=False)
        batch_op.create_index("ix_observations_org_created", ["organisation_id", "created_at"], unique=False)
        batch_op.create_index("ix_observations_partnership_status", ["partnership_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_observations_period_start"), ["period_start"], unique=False)
        batch_op.create_index(batch_op.f("ix_observations_status"), ["status"], unique=False)


def downgrade():
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_observations_status"))
        batch_op.drop_index(batch_op.f("ix_observations_period_start"))
        batch_op.drop_index("ix_observations_partnership_status")
        batch_op.drop_index("ix_observations_org_created")
        batch_op.drop_index(batch_op.f("ix_observations_category_id"))
        batch_op.drop_index(batch_op.f("ix_observations_author_id"))
        batch_op.drop_index(batch_op.f("ix_observations_area_id"))

    op.drop_table("observations")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_organisation_id"))

    op.drop_table("api_tokens")
    op.drop_table("observation_categories")
