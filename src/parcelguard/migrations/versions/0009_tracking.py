"""Tracking through the network: a scan event may say why (a delivery attempt's outcome, an exception's
kind), and the public lookup counts each client's lookups and misses per hour.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 16:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('scan_events') as batch:
        batch.add_column(sa.Column('reason', sa.String(length=24), nullable=True))
    op.create_table('lookup_counters',
    sa.Column('key', sa.String(length=96), nullable=False),
    sa.Column('window_start', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('lookups', sa.Integer(), nullable=False),
    sa.Column('misses', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key', 'window_start', name=op.f('pk_lookup_counters'))
    )


def downgrade() -> None:
    op.drop_table('lookup_counters')
    with op.batch_alter_table('scan_events') as batch:
        batch.drop_column('reason')
