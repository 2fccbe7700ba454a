"""Honeytoken parcels (issue 14): which shipments are decoys, kept apart from every listing.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 20:20:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parcelguard.core.db

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('honeytokens',
    sa.Column('shipment_id', sa.Uuid(), nullable=False),
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('planted_by', sa.Uuid(), nullable=True),
    sa.Column('planted_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_honeytokens_carrier_id_carriers')),
    sa.ForeignKeyConstraint(['planted_by'], ['users.id'], name=op.f('fk_honeytokens_planted_by_users')),
    sa.ForeignKeyConstraint(['shipment_id'], ['shipments.id'], name=op.f('fk_honeytokens_shipment_id_shipments')),
    sa.PrimaryKeyConstraint('shipment_id', name=op.f('pk_honeytokens'))
    )
    with op.batch_alter_table('honeytokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_honeytokens_carrier_id'), ['carrier_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('honeytokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_honeytokens_carrier_id'))
    op.drop_table('honeytokens')
