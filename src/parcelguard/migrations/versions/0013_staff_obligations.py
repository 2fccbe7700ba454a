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

    # Columns added in place (SQLite's ALTER TABLE ADD COLUMN, no table rebuilt): rebuilding `carriers` or
    # `users` under a database that holds rows other tables refer to fails SQLite's foreign keys.
    op.add_column('carriers', sa.Column('obligations_required', sa.Boolean(), server_default=sa.false(),
                                        nullable=False))
    op.add_column('carriers', sa.Column('blacklist_policy', sa.String(length=8), server_default='flag',
                                        nullable=False))
    fk = op.f('fk_users_organisation_id_partner_organisations')
    if op.get_bind().dialect.name == 'sqlite':  # the constraint inline, the one way SQLite adds one
        op.execute(f'ALTER TABLE users ADD COLUMN organisation_id CHAR(32) CONSTRAINT {fk} '
                   'REFERENCES partner_organisations (id)')
    else:
        op.add_column('users', sa.Column('organisation_id', sa.Uuid(), nullable=True))
        op.create_foreign_key(fk, 'users', 'partner_organisations', ['organisation_id'], ['id'])
    op.create_index(op.f('ix_users_organisation_id'), 'users', ['organisation_id'], unique=False)
    op.add_column('staff_documents', sa.Column('industry_index', sa.LargeBinary(length=32), nullable=True))


def downgrade() -> None:
    op.drop_column('staff_documents', 'industry_index')
    op.drop_index(op.f('ix_users_organisation_id'), table_name='users')
    if op.get_bind().dialect.name == 'sqlite':
        with op.batch_alter_table('users', schema=None) as batch_op:  # SQLite drops no column a key names
            batch_op.drop_column('organisation_id')
    else:
        op.drop_constraint(op.f('fk_users_organisation_id_partner_organisations'), 'users', type_='foreignkey')
        op.drop_column('users', 'organisation_id')
    op.drop_column('carriers', 'blacklist_policy')
    op.drop_column('carriers', 'obligations_required')
    with op.batch_alter_table('staff_obligations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_obligations_carrier_id_user_id_kind'))
    op.drop_table('staff_obligations')
    with op.batch_alter_table('partner_organisations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_partner_organisations_carrier_id'))
    op.drop_table('partner_organisations')
