"""The regulator's platform: registered carriers and their batch-signing keys, received batches, and
received records (payload encrypted at rest, blind indexes of the document numbers).

Revision ids carry the `platform_` prefix, so the platform's database and the carrier's can never be
taken for one another (`/readyz` compares the revision with this folder's head).

Revision ID: platform_0001
Revises:
Create Date: 2026-11-26 02:29:06.501991
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parcelguard.core.db

revision: str = 'platform_0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('registered_carriers',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('registered_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registered_carriers')),
    sa.UniqueConstraint('code', name=op.f('uq_registered_carriers_code'))
    )
    op.create_table('carrier_keys',
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('key_id', sa.String(length=16), nullable=False),
    sa.Column('public_key', sa.LargeBinary(length=32), nullable=False),
    sa.Column('added_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['carrier_id'], ['registered_carriers.id'], name=op.f('fk_carrier_keys_carrier_id_registered_carriers')),
    sa.PrimaryKeyConstraint('carrier_id', 'key_id', name=op.f('pk_carrier_keys'))
    )
    op.create_table('received_batches',
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('batch_id', sa.Uuid(), nullable=False),
    sa.Column('key_id', sa.String(length=16), nullable=False),
    sa.Column('sent_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('received_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('record_count', sa.Integer(), nullable=False),
    sa.Column('accepted_count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['carrier_id'], ['registered_carriers.id'], name=op.f('fk_received_batches_carrier_id_registered_carriers')),
    sa.PrimaryKeyConstraint('carrier_id', 'batch_id', name=op.f('pk_received_batches'))
    )
    op.create_table('received_records',
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('record_id', sa.Uuid(), nullable=False),
    sa.Column('batch_id', sa.Uuid(), nullable=False),
    sa.Column('waybill_no', sa.String(length=20), nullable=False),
    sa.Column('station', sa.String(length=32), nullable=False),
    sa.Column('region', sa.String(length=6), nullable=False),
    sa.Column('doc_type', sa.String(length=32), nullable=False),
    sa.Column('taken_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('received_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('document_index', sa.LargeBinary(length=17), nullable=False),
    sa.Column('responsible_index', sa.LargeBinary(length=17), nullable=True),
    sa.Column('payload', sa.LargeBinary(), nullable=False),
    sa.Column('record_digest', sa.LargeBinary(length=32), nullable=False),
    sa.ForeignKeyConstraint(['carrier_id', 'batch_id'], ['received_batches.carrier_id', 'received_batches.batch_id'], name=op.f('fk_received_records_carrier_id_received_batches')),
    sa.PrimaryKeyConstraint('carrier_id', 'record_id', name=op.f('pk_received_records'))
    )
    with op.batch_alter_table('received_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_received_records_carrier_id_received_at'), ['carrier_id', 'received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_received_records_document_index'), ['document_index'], unique=False)
        batch_op.create_index(batch_op.f('ix_received_records_responsible_index'), ['responsible_index'], unique=False)
        batch_op.create_index(batch_op.f('ix_received_records_waybill_no'), ['waybill_no'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('received_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_received_records_waybill_no'))
        batch_op.drop_index(batch_op.f('ix_received_records_responsible_index'))
        batch_op.drop_index(batch_op.f('ix_received_records_document_index'))
        batch_op.drop_index(batch_op.f('ix_received_records_carrier_id_received_at'))

    op.drop_table('received_records')
    op.drop_table('received_batches')
    op.drop_table('carrier_keys')
    op.drop_table('registered_carriers')
