"""The enterprise console (issue 16): companies, their employees, tokens and sign-in throttle, carrier connections
(credentials sealed) and rate table versions.

Revision ids carry the `enterprise_` prefix, so the console's database and another platform's can never be taken
for one another (`/readyz` compares the revision with this folder's head).

Revision ID: enterprise_0001
Revises:
Create Date: 2026-12-07 02:10:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parcelguard.core.db

revision: str = 'enterprise_0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('companies',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_companies')),
    sa.UniqueConstraint('code', name=op.f('uq_companies_code'))
    )
    op.create_table('employee_login_throttle',
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failure_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('locked_until', parcelguard.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('username', name=op.f('pk_employee_login_throttle'))
    )
    op.create_table('carrier_connections',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('company_id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('adapter', sa.String(length=32), nullable=False),
    sa.Column('base_url', sa.String(length=500), nullable=False),
    sa.Column('credentials', sa.LargeBinary(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name=op.f('fk_carrier_connections_company_id_companies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_carrier_connections')),
    sa.UniqueConstraint('company_id', 'code', name=op.f('uq_carrier_connections_company_id_code'))
    )
    op.create_table('employees',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('company_id', sa.Uuid(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name=op.f('fk_employees_company_id_companies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_employees')),
    sa.UniqueConstraint('username', name=op.f('uq_employees_username'))
    )
    with op.batch_alter_table('employees', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_employees_company_id'), ['company_id'], unique=False)

    op.create_table('employee_tokens',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('employee_id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('issued_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['employee_id'], ['employees.id'], name=op.f('fk_employee_tokens_employee_id_employees')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_employee_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_employee_tokens_token_hash'))
    )
    with op.batch_alter_table('employee_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_employee_tokens_employee_id'), ['employee_id'], unique=False)

    op.create_table('rate_table_versions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('company_id', sa.Uuid(), nullable=False),
    sa.Column('connection_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('lanes', sa.Integer(), nullable=False),
    sa.Column('surcharges', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('file_name', sa.String(length=200), nullable=False),
    sa.Column('file_sha256', sa.LargeBinary(length=32), nullable=False),
    sa.Column('imported_by', sa.Uuid(), nullable=False),
    sa.Column('imported_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name=op.f('fk_rate_table_versions_company_id_companies')),
    sa.ForeignKeyConstraint(['connection_id'], ['carrier_connections.id'], name=op.f('fk_rate_table_versions_connection_id_carrier_connections')),
    sa.ForeignKeyConstraint(['imported_by'], ['employees.id'], name=op.f('fk_rate_table_versions_imported_by_employees')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rate_table_versions')),
    sa.UniqueConstraint('connection_id', 'effective_from', name=op.f('uq_rate_table_versions_connection_id_effective_from'))
    )
    with op.batch_alter_table('rate_table_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rate_table_versions_company_id'), ['company_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('rate_table_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rate_table_versions_company_id'))

    op.drop_table('rate_table_versions')
    with op.batch_alter_table('employee_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_employee_tokens_employee_id'))

    op.drop_table('employee_tokens')
    with op.batch_alter_table('employees', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_employees_company_id'))

    op.drop_table('employees')
    op.drop_table('carrier_connections')
    op.drop_table('employee_login_throttle')
    op.drop_table('companies')
