"""The uploader's side of the regulator feed: the batches it sent, and records the regulator rejected.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 02:25:49.672713
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parcelguard.core.db

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('regulator_upload_batches',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('sent_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('records', sa.Integer(), nullable=False),
    sa.Column('accepted', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('error', sa.String(length=64), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_regulator_upload_batches_carrier_id_carriers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_regulator_upload_batches'))
    )
    with op.batch_alter_table('regulator_upload_batches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_regulator_upload_batches_carrier_id_sent_at'), ['carrier_id', 'sent_at'], unique=False)

    with op.batch_alter_table('regulator_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rejected_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('rejected_reason', sa.String(length=64), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('regulator_outbox', schema=None) as batch_op:
        batch_op.drop_column('rejected_reason')
        batch_op.drop_column('rejected_at')

    with op.batch_alter_table('regulator_upload_batches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_regulator_upload_batches_carrier_id_sent_at'))

    op.drop_table('regulator_upload_batches')
