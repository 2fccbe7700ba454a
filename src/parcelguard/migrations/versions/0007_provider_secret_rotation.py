"""The telephony provider's secret can be rotated: a row per generation, the replaced one working for an
overlap. Carriers without rows keep signing with generation 0, the secret they had.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 07:40:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parcelguard.core.db

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('provider_secrets',
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('generation', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('created_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('retires_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_provider_secrets_carrier_id_carriers')),
    sa.PrimaryKeyConstraint('carrier_id', 'generation', name=op.f('pk_provider_secrets'))
    )


def downgrade() -> None:
    op.drop_table('provider_secrets')
