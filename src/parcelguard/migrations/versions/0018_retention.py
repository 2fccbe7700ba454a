"""Retention (issue 15): a carrier's own retention per data class, and the signed destruction records.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 23:22:07
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parcelguard.core.db

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('destruction_records',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('run_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('data_class', sa.String(length=64), nullable=False),
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('signature', sa.LargeBinary(length=64), nullable=False),
    sa.Column('key_id', sa.BigInteger(), nullable=False),
    sa.Column('audit_index', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_destruction_records_carrier_id_carriers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_destruction_records'))
    )
    with op.batch_alter_table('destruction_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_destruction_records_carrier_id_created_at'), ['carrier_id', 'created_at'], unique=False)

    op.create_table('retention_settings',
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('data_class', sa.String(length=64), nullable=False),
    sa.Column('months', sa.Integer(), nullable=False),
    sa.Column('updated_by', sa.Uuid(), nullable=True),
    sa.Column('updated_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_retention_settings_carrier_id_carriers')),
    sa.ForeignKeyConstraint(['updated_by'], ['users.id'], name=op.f('fk_retention_settings_updated_by_users')),
    sa.PrimaryKeyConstraint('carrier_id', 'data_class', name=op.f('pk_retention_settings'))
    )


def downgrade() -> None:
    op.drop_table('retention_settings')
    with op.batch_alter_table('destruction_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_destruction_records_carrier_id_created_at'))

    op.drop_table('destruction_records')
