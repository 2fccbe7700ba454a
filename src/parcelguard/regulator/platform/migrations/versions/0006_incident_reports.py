"""Carriers' incident reports (`regulator.incident_protocol`): the counts as listed, the signed body and its
signature as they came, and the receipt as first answered.

Revision ID: platform_0006
Revises: platform_0005
Create Date: 2026-12-10 09:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parcelguard.core.db

revision: str = 'platform_0006'
down_revision: str | None = 'platform_0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('received_incident_reports',
    sa.Column('report_id', sa.Uuid(), nullable=False),
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('incident', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('reported_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('received_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('opened_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('contained_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('window_since', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('window_until', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('accounts', sa.BigInteger(), nullable=False),
    sa.Column('accounts_contained', sa.BigInteger(), nullable=False),
    sa.Column('reveals', sa.BigInteger(), nullable=False),
    sa.Column('subjects', sa.BigInteger(), nullable=False),
    sa.Column('denied', sa.BigInteger(), nullable=False),
    sa.Column('stations', sa.JSON(), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('actions', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('key_id', sa.String(length=16), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('signature', sa.LargeBinary(length=64), nullable=False),
    sa.Column('receipt', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['carrier_id'], ['registered_carriers.id'],
                            name=op.f('fk_received_incident_reports_carrier_id_registered_carriers')),
    sa.PrimaryKeyConstraint('report_id', name=op.f('pk_received_incident_reports'))
    )
    with op.batch_alter_table('received_incident_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_received_incident_reports_carrier_id_received_at'),
                              ['carrier_id', 'received_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('received_incident_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_received_incident_reports_carrier_id_received_at'))
    op.drop_table('received_incident_reports')
