"""Disclosure: record keys for the cell key method, consent to quote in the funders' edition, briefing editions.

- observations.record_key: the random key (0..255) the cell key method perturbs counts with. Existing observations
  get keys drawn here from the operating system's RNG (``secrets``), as new ones do when stored.
- observations.consent_to_quote_funders: the submitter's consent to a quote in the funders' edition. Existing
  consents are kept for the partnership's briefings only (false here): nothing becomes readable by funders that was
  not consented to for them.
- briefings.facts: the composer's tallies per edition for the draft.
- briefing_contributions.key_sum: contributions are released as tallies; rows published before this revision have
  no key sum (0).
- briefing_editions: one row per published version and audience, with that edition's PDF and what it was released
  with. PDFs of versions published before this revision move here as the partnership's edition (marked legacy);
  those versions have no funders' edition. The PDF columns of briefing_versions go.

Reviewed on SQLite (batch mode) and PostgreSQL; downgrade() moves the partnership editions' PDFs back.

Revision ID: 0010_disclosure
Revises: 0015b_releases
Create Date: 2026-11-30 23:40:00

"""

import secrets

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0010_disclosure"
down_revision = "0015b_releases"
branch_labels = None
depends_on = None

RECORD_KEYS = 256


def upgrade():
    bind = op.get_bind()
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("consent_to_quote_funders", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("record_key", sa.SmallInteger(), nullable=True))
    observations = sa.table("observations", sa.column("id", sa.Integer), sa.column("record_key", sa.SmallInteger))
    ids = [row[0] for row in bind.execute(sa.select(observations.c.id).where(observations.c.record_key.is_(None)))]
    update = (
        sa.update(observations).where(observations.c.id == sa.bindparam("oid")).values(record_key=sa.bindparam("key"))
    )
    for start in range(0, len(ids), 5000):
        bind.execute(update, [{"oid": i, "key": secrets.randbelow(RECORD_KEYS)} for i in ids[start : start + 5000]])
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.alter_column("record_key", existing_type=sa.SmallInteger(), nullable=False)

    with op.batch_alter_table("briefings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("facts", sa.JSON(), nullable=True))
    with op.batch_alter_table("briefing_contributions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key_sum", sa.Integer(), server_default="0", nullable=False))

    editions = op.create_table(
        "briefing_editions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("audience", sa.String(length=32), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=True),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=True),
        sa.Column("pdf_pages", sa.Integer(), nullable=True),
        sa.Column("pdf_rendered_at", sa.DateTime(), nullable=True),
        sa.Column("released_with", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["briefing_versions.id"],
            name=op.f("fk_briefing_editions_version_id_briefing_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_briefing_editions")),
        sa.UniqueConstraint("version_id", "audience", name=op.f("uq_briefing_editions_version_id_audience")),
    )
    with op.batch_alter_table("briefing_editions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_briefing_editions_version_id"), ["version_id"], unique=False)

    versions = sa.table(
        "briefing_versions",
        sa.column("id", sa.Integer),
        sa.column("pdf", sa.LargeBinary),
        sa.column("pdf_sha256", sa.String),
        sa.column("pdf_pages", sa.Integer),
        sa.column("pdf_rendered_at", sa.DateTime),
    )
    rows = bind.execute(
        sa.select(
            versions.c.id, versions.c.pdf, versions.c.pdf_sha256, versions.c.pdf_pages, versions.c.pdf_rendered_at
        )
    ).all()
    if rows:
        op.bulk_insert(
            editions,
            [
                {"version_id": r[0], "audience": "partnership", "pdf": r[1], "pdf_sha256": r[2], "pdf_pages": r[3],
                 "pdf_rendered_at": r[4], "released_with": {"legacy": True}}
                for r in rows
            ],
        )  # fmt: skip
    with op.batch_alter_table("briefing_versions", schema=None) as batch_op:
        batch_op.drop_column("pdf_rendered_at")
        batch_op.drop_column("pdf_pages")
        batch_op.drop_column("pdf_sha256")
        batch_op.drop_column("pdf")


def downgrade():
    bind = op.get_bind()
    with op.batch_alter_table("briefing_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pdf", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("pdf_sha256", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("pdf_pages", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("pdf_rendered_at", sa.DateTime(), nullable=True))
    editions = sa.table(
        "briefing_editions",
        sa.column("version_id", sa.Integer),
        sa.column("audience", sa.String),
        sa.column("pdf", sa.LargeBinary),
        sa.column("pdf_sha256", sa.String),
        sa.column("pdf_pages", sa.Integer),
        sa.column("pdf_rendered_at", sa.DateTime),
    )
    versions = sa.table(
        "briefing_versions",
        sa.column("id", sa.Integer),
        sa.column("pdf", sa.LargeBinary),
        sa.column("pdf_sha256", sa.String),
        sa.column("pdf_pages", sa.Integer),
        sa.column("pdf_rendered_at", sa.DateTime),
    )
    rows = bind.execute(
        sa.select(
            editions.c.version_id, editions.c.pdf, editions.c.pdf_sha256, editions.c.pdf_pages,
            editions.c.pdf_rendered_at,
        ).where(editions.c.audience == "partnership", editions.c.pdf_sha256.is_not(None))
    ).all()  # fmt: skip
    for r in rows:
        bind.execute(
            sa.update(versions)
            .where(versions.c.id == r[0])
            .values(pdf=r[1], pdf_sha256=r[2], pdf_pages=r[3], pdf_rendered_at=r[4])
        )
    with op.batch_alter_table("briefing_editions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_briefing_editions_version_id"))
    op.drop_table("briefing_editions")
    with op.batch_alter_table("briefing_contributions", schema=None) as batch_op:
        batch_op.drop_column("key_sum")
    with op.batch_alter_table("briefings", schema=None) as batch_op:
        batch_op.drop_column("facts")
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.drop_column("record_key")
        batch_op.drop_column("consent_to_quote_funders")
