"""Running totals for the officials' figures: records per (carrier, hour, station, region) and a histogram
of upload delays per (carrier, hour), filled here from the records already stored.

Revision ID: platform_0005
Revises: platform_0004
Create Date: 2026-12-06 19:30:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parcelguard.core.db

revision: str = 'platform_0005'
down_revision: str | None = 'platform_0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('record_rollups',
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('hour', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('station', sa.String(length=32), nullable=False),
    sa.Column('region', sa.String(length=6), nullable=False),
    sa.Column('records', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['carrier_id'], ['registered_carriers.id'],
                            name=op.f('fk_record_rollups_carrier_id_registered_carriers')),
    sa.PrimaryKeyConstraint('carrier_id', 'hour', 'station', 'region', name=op.f('pk_record_rollups'))
    )
    with op.batch_alter_table('record_rollups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_record_rollups_hour'), ['hour'], unique=False)
    op.create_table('delay_rollups',
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('hour', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('bucket_ms', sa.BigInteger(), nullable=False),
    sa.Column('records', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['carrier_id'], ['registered_carriers.id'],
                            name=op.f('fk_delay_rollups_carrier_id_registered_carriers')),
    sa.PrimaryKeyConstraint('carrier_id', 'hour', 'bucket_ms', name=op.f('pk_delay_rollups'))
    )
    with op.batch_alter_table('delay_rollups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delay_rollups_hour'), ['hour'], unique=False)
    # The records stored before, counted in (the same SQL the benchmark fills them with; it reads only
    # columns of platform_0001's received_records).
    from parcelguard.regulator.platform import rollups
    rollups.rebuild(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table('delay_rollups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delay_rollups_hour'))
    op.drop_table('delay_rollups')
    with op.batch_alter_table('record_rollups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_record_rollups_hour'))
    op.drop_table('record_rollups')
