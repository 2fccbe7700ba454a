"""Shredding keys (issue 15): one per (carrier, data class, UTC month) in the database's own key store, and the
data key's link to the one that takes part in wrapping it. The column is added in place (SQLite's ADD COLUMN),
not by copying the table: data keys are referenced and numerous.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 23:13:38
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parcelguard.core.db

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('crypto_shred_keys',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('data_class', sa.String(length=64), nullable=False),
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('wrapped_key', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crypto_shred_keys'))
    )
    with op.batch_alter_table('crypto_shred_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_crypto_shred_keys_carrier_id_data_class_period'), ['carrier_id', 'data_class', 'period'], unique=False)

    op.add_column('crypto_data_keys', sa.Column('shred_key_id', sa.BigInteger(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('crypto_data_keys', schema=None) as batch_op:
        batch_op.drop_column('shred_key_id')

    with op.batch_alter_table('crypto_shred_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_crypto_shred_keys_carrier_id_data_class_period'))

    op.drop_table('crypto_shred_keys')
