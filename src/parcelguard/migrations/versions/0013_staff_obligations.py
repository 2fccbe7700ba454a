"""Staff obligations and partner organisations (issue 14): confidentiality agreements and training per
account, franchisees' and third parties' security clauses, the carrier's settings for both and for the
industry blacklist, and a staff document's industry hash.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 19:50:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parcelguard.core.db

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('partner_organisations',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('clause_version', sa.String(length=32), nullable=False),
    sa.Column('clause_signed_on', sa.Date(), nullable=False),
    sa.Column('clause_expires_on', sa.Date(), nullable=False),
    sa.Column('scope', sa.String(length=200), nullable=False),
    sa.Column('created_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_partner_organisations_carrier_id_carriers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partner_organisations')),
    sa.UniqueConstraint('carrier_id', 'name', name=op.f('uq_partner_organisations_carrier_id_name'))
    )
    with op.batch_alter_table('partner_organisations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_partner_organisations_carrier_id'), ['carrier_id'], unique=False)

    op.create_table('staff_obligations',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('version', sa.String(length=32), nullable=False),
    sa.Column('signed_on', sa.Date(), nullable=False),
    sa.Column('expires_on', sa.Date(), nullable=False),
    sa.Column('recorded_by', sa.Uuid(), nullable=True),
    sa.Column('recorded_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_staff_obligations_carrier_id_carriers')),
    sa.ForeignKeyConstraint(['recorded_by'], ['users.id'], name=op.f('fk_staff_obligations_recorded_by_users')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_staff_obligations_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_obligations'))
    )
    with op.batch_alter_table('staff_obligations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_obligations_carrier_id_user_id_kind'), ['carrier_id', 'user_id', 'kind'],
                              unique=False)

    with op.batch_alter_table('carriers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('obligations_required', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('blacklist_policy', sa.String(length=8), server_default='flag', nullable=False))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('organisation_id', sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f('ix_users_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_users_organisation_id_partner_organisations'),
                                    'partner_organisations', ['organisation_id'], ['id'])
    with op.batch_alter_table('staff_documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('industry_index', sa.LargeBinary(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('staff_documents', schema=None) as batch_op:
        batch_op.drop_column('industry_index')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_users_organisation_id_partner_organisations'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_users_organisation_id'))
        batch_op.drop_column('organisation_id')
    with op.batch_alter_table('carriers', schema=None) as batch_op:
        batch_op.drop_column('blacklist_policy')
        batch_op.drop_column('obligations_required')
    with op.batch_alter_table('staff_obligations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_obligations_carrier_id_user_id_kind'))
    op.drop_table('staff_obligations')
    with op.batch_alter_table('partner_organisations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_partner_organisations_carrier_id'))
    op.drop_table('partner_organisations')
