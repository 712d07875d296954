"""Convening: partnership sessions, briefings (draft sections and immutable published versions with their PDF),
contributions per organisation, decisions, actions, and who read which briefing.

Reviewed: enums are strings (no database enum types), timestamps plain DateTime (naive UTC), constraints named by the
metadata naming convention. Themes and observations are referred to by JSON id lists (no foreign keys into the nlp
and submissions tables), so this revision depends only on the ground floor's tables. downgrade() drops in reverse
dependency order.

Revision ID: 0005_convening
Revises: 0004_indicators
Create Date: 2026-11-23 20:05:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005_convening'
down_revision = '0004_indicators'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('convening_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('partnership_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('held_on', sa.Date(), nullable=False),
    sa.Column('place', sa.String(length=300), nullable=False),
    sa.Column('link', sa.String(length=500), nullable=False),
    sa.Column('focus_area_ids', sa.JSON(), nullable=False),
    sa.Column('focus_theme_ids', sa.JSON(), nullable=False),
    sa.Column('focus_category_ids', sa.JSON(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=True),
    sa.Column('period_end', sa.Date(), nullable=True),
    sa.Column('agenda', sa.JSON(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_convening_sessions_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['partnership_id'], ['partnerships.id'], name=op.f('fk_convening_sessions_partnership_id_partnerships'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_convening_sessions'))
    )
    with op.batch_alter_table('convening_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_convening_sessions_held_on'), ['held_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_convening_sessions_partnership_id'), ['partnership_id'], unique=False)

    op.create_table('briefings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('composed_at', sa.DateTime(), nullable=True),
    sa.Column('changed_since_publish', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['convening_sessions.id'], name=op.f('fk_briefings_session_id_convening_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_briefings')),
    sa.UniqueConstraint('session_id', name=op.f('uq_briefings_session_id'))
    )
    op.create_table('convening_actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('owner_org_id', sa.Integer(), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('status', sa.Enum('open', 'in_progress', 'done', 'dropped', name='actionstatus', native_enum=False, length=32), nullable=False),
    sa.Column('theme_ids', sa.JSON(), nullable=False),
    sa.Column('area_ids', sa.JSON(), nullable=False),
    sa.Column('observation_ids', sa.JSON(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_convening_actions_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_org_id'], ['organisations.id'], name=op.f('fk_convening_actions_owner_org_id_organisations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['session_id'], ['convening_sessions.id'], name=op.f('fk_convening_actions_session_id_convening_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_convening_actions'))
    )
    with op.batch_alter_table('convening_actions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_convening_actions_owner_org_id'), ['owner_org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_convening_actions_session_id'), ['session_id'], unique=False)

    op.create_table('convening_decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_convening_decisions_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['session_id'], ['convening_sessions.id'], name=op.f('fk_convening_decisions_session_id_convening_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_convening_decisions'))
    )
    with op.batch_alter_table('convening_decisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_convening_decisions_session_id'), ['session_id'], unique=False)

    op.create_table('convening_session_organisations',
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_convening_session_organisations_organisation_id_organisations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['convening_sessions.id'], name=op.f('fk_convening_session_organisations_session_id_convening_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('session_id', 'organisation_id', name=op.f('pk_convening_session_organisations'))
    )
    op.create_table('briefing_sections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('briefing_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('headlines', 'needs_assets', 'indicators', 'map', 'quotes', 'gaps', 'actions', 'questions', 'custom', 'provenance', name='sectionkind', native_enum=False, length=32), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('included', sa.Boolean(), nullable=False),
    sa.Column('machine_written', sa.Boolean(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['briefing_id'], ['briefings.id'], name=op.f('fk_briefing_sections_briefing_id_briefings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['users.id'], name=op.f('fk_briefing_sections_reviewed_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_briefing_sections'))
    )
    with op.batch_alter_table('briefing_sections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_briefing_sections_briefing_id'), ['briefing_id'], unique=False)

    op.create_table('briefing_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('briefing_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('published_by_id', sa.Integer(), nullable=True),
    sa.Column('published_at', sa.DateTime(), nullable=False),
    sa.Column('partnership_id', sa.Integer(), nullable=False),
    sa.Column('area_ids', sa.JSON(), nullable=False),
    sa.Column('theme_ids', sa.JSON(), nullable=False),
    sa.Column('quoted_observation_ids', sa.JSON(), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=True),
    sa.Column('pdf_sha256', sa.String(length=64), nullable=True),
    sa.Column('pdf_pages', sa.Integer(), nullable=True),
    sa.Column('pdf_rendered_at', sa.DateTime(), nullable=True),
    sa.Column('withdrawn_at', sa.DateTime(), nullable=True),
    sa.Column('withdrawn_reason', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['briefing_id'], ['briefings.id'], name=op.f('fk_briefing_versions_briefing_id_briefings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['partnership_id'], ['partnerships.id'], name=op.f('fk_briefing_versions_partnership_id_partnerships'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['published_by_id'], ['users.id'], name=op.f('fk_briefing_versions_published_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_briefing_versions')),
    sa.UniqueConstraint('briefing_id', 'number', name=op.f('uq_briefing_versions_briefing_id_number'))
    )
    with op.batch_alter_table('briefing_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_briefing_versions_briefing_id'), ['briefing_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_briefing_versions_partnership_id'), ['partnership_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_briefing_versions_published_at'), ['published_at'], unique=False)

    op.create_table('briefing_contributions',
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('observations', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_briefing_contributions_organisation_id_organisations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['version_id'], ['briefing_versions.id'], name=op.f('fk_briefing_contributions_version_id_briefing_versions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('version_id', 'organisation_id', name=op.f('pk_briefing_contributions'))
    )
    op.create_table('briefing_views',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('organisation_kind', sa.String(length=40), nullable=False),
    sa.Column('how', sa.Enum('view', 'download', name='viewkind', native_enum=False, length=32), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_briefing_views_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['version_id'], ['briefing_versions.id'], name=op.f('fk_briefing_views_version_id_briefing_versions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_briefing_views'))
    )
    with op.batch_alter_table('briefing_views', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_briefing_views_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_briefing_views_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_briefing_views_version_id'), ['version_id'], unique=False)

    


def downgrade():
    with op.batch_alter_table('briefing_views', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_briefing_views_version_id'))
        batch_op.drop_index(batch_op.f('ix_briefing_views_user_id'))
        batch_op.drop_index(batch_op.f('ix_briefing_views_at'))

    op.drop_table('briefing_views')
    op.drop_table('briefing_contributions')
    with op.batch_alter_table('briefing_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_briefing_versions_published_at'))
        batch_op.drop_index(batch_op.f('ix_briefing_versions_partnership_id'))
        batch_op.drop_index(batch_op.f('ix_briefing_versions_briefing_id'))

    op.drop_table('briefing_versions')
    with op.batch_alter_table('briefing_sections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_briefing_sections_briefing_id'))

    op.drop_table('briefing_sections')
    op.drop_table('convening_session_organisations')
    with op.batch_alter_table('convening_decisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_convening_decisions_session_id'))

    op.drop_table('convening_decisions')
    with op.batch_alter_table('convening_actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_convening_actions_session_id'))
        batch_op.drop_index(batch_op.f('ix_convening_actions_owner_org_id'))

    op.drop_table('convening_actions')
    op.drop_table('briefings')
    with op.batch_alter_table('convening_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_convening_sessions_partnership_id'))
        batch_op.drop_index(batch_op.f('ix_convening_sessions_held_on'))

    op.drop_table('convening_sessions')
    
