"""The platform's own retention (issue 15): month keys for records at rest, and the signed destruction records.

Revision ID: platform_0007
Revises: platform_0006
Create Date: 2026-12-06 23:34:09
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parcelguard.core.db

revision: str = 'platform_0007'
down_revision: str | None = 'platform_0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('platform_destructions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('created_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('signature', sa.LargeBinary(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_platform_destructions'))
    )
    with op.batch_alter_table('platform_destructions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_platform_destructions_period'), ['period'], unique=False)

    op.create_table('record_keys',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('wrapped_key', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('destroyed_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_record_keys'))
    )
    with op.batch_alter_table('record_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_record_keys_period'), ['period'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('record_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_record_keys_period'))

    op.drop_table('record_keys')
    with op.batch_alter_table('platform_destructions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_platform_destructions_period'))

    op.drop_table('platform_destructions')
