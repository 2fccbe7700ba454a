"""Legal holds (issue 15): parcels held for an investigation case, their values moved to the class legal_hold.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 23:28:36
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parcelguard.core.db

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('legal_holds',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('shipment_id', sa.Uuid(), nullable=False),
    sa.Column('moved_period', sa.String(length=16), nullable=False),
    sa.Column('placed_by', sa.Uuid(), nullable=False),
    sa.Column('placed_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('released_by', sa.Uuid(), nullable=True),
    sa.Column('released_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_legal_holds_carrier_id_carriers')),
    sa.ForeignKeyConstraint(['case_id'], ['investigation_cases.id'], name=op.f('fk_legal_holds_case_id_investigation_cases')),
    sa.ForeignKeyConstraint(['placed_by'], ['users.id'], name=op.f('fk_legal_holds_placed_by_users')),
    sa.ForeignKeyConstraint(['released_by'], ['users.id'], name=op.f('fk_legal_holds_released_by_users')),
    sa.ForeignKeyConstraint(['shipment_id'], ['shipments.id'], name=op.f('fk_legal_holds_shipment_id_shipments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_legal_holds'))
    )
    with op.batch_alter_table('legal_holds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_legal_holds_carrier_id_released_at'), ['carrier_id', 'released_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_legal_holds_case_id'), ['case_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('legal_holds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_legal_holds_case_id'))
        batch_op.drop_index(batch_op.f('ix_legal_holds_carrier_id_released_at'))

    op.drop_table('legal_holds')
