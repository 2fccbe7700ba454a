"""Received records partitioned by month of `taken_at` on PostgreSQL (issue 17); the primary key takes `taken_at`
on both engines (a partitioned table's key must hold its partition key).

PostgreSQL: the old table is renamed, the partitioned one made (same columns, indexes, foreign key), a partition
made for every month with rows plus this month and the next, and a DEFAULT one; the rows are moved, the old table
dropped. SQLite: only the primary key changes (batch mode). Downgrade goes back to one ordinary table.

Revision ID: platform_0008
Revises: platform_0007
Create Date: 2026-12-07 06:30:00
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import parcelguard.core.db

revision: str = 'platform_0008'
down_revision: str | None = 'platform_0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = 'received_records'
OLD = 'received_records_unpartitioned'
COLUMNS = ('carrier_id, record_id, batch_id, waybill_no, station, region, doc_type, taken_at, received_at, '
           'document_index, responsible_index, payload, record_digest')
INDEXES = (('ix_received_records_carrier_id_received_at', ['carrier_id', 'received_at']),
           ('ix_received_records_document_index', ['document_index']),
           ('ix_received_records_responsible_index', ['responsible_index']),
           ('ix_received_records_waybill_no', ['waybill_no']),
           ('ix_received_records_taken_at', ['taken_at']))


def _create(primary_key: list[str], **kwargs: object) -> None:
    op.create_table(TABLE,
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
    sa.ForeignKeyConstraint(['carrier_id', 'batch_id'], ['received_batches.carrier_id', 'received_batches.batch_id'],
                            name=op.f('fk_received_records_carrier_id_received_batches')),
    sa.PrimaryKeyConstraint(*primary_key, name=op.f('pk_received_records')),
    **kwargs,
    )


def _month(year: int, month: int, plus: int = 0) -> tuple[int, int]:
    total = year * 12 + month - 1 + plus
    return total // 12, total % 12 + 1


def _partition(year: int, month: int) -> None:
    lo, hi = datetime(year, month, 1, tzinfo=UTC), datetime(*_month(year, month, 1), 1, tzinfo=UTC)
    op.execute(f"CREATE TABLE IF NOT EXISTS {TABLE}_y{year:04d}m{month:02d} PARTITION OF {TABLE} "
               f"FOR VALUES FROM ('{lo.isoformat()}') TO ('{hi.isoformat()}')")


def _set_aside() -> None:
    """Rename the table and free its constraint and index names for the new one."""
    op.rename_table(TABLE, OLD)
    op.execute(f"ALTER TABLE {OLD} DROP CONSTRAINT pk_received_records")
    op.execute(f"ALTER TABLE {OLD} DROP CONSTRAINT fk_received_records_carrier_id_received_batches")
    for name, _ in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")


def _indexes() -> None:
    for name, columns in INDEXES:
        op.create_index(name, TABLE, columns, unique=False)


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        with op.batch_alter_table(TABLE, schema=None) as batch_op:
            batch_op.drop_constraint('pk_received_records', type_='primary')
            batch_op.create_primary_key('pk_received_records', ['carrier_id', 'record_id', 'taken_at'])
        return
    _set_aside()
    _create(['carrier_id', 'record_id', 'taken_at'], postgresql_partition_by='RANGE (taken_at)')
    months = {(int(y), int(m)) for y, m in op.get_bind().execute(sa.text(
        f"SELECT DISTINCT extract(year FROM taken_at AT TIME ZONE 'UTC'), "
        f"extract(month FROM taken_at AT TIME ZONE 'UTC') FROM {OLD}"))}
    today = datetime.now(UTC)
    months |= {_month(today.year, today.month), _month(today.year, today.month, 1)}
    for year, month in sorted(months):
        _partition(year, month)
    op.execute(f"CREATE TABLE IF NOT EXISTS {TABLE}_default PARTITION OF {TABLE} DEFAULT")
    op.execute(f"INSERT INTO {TABLE} ({COLUMNS}) SELECT {COLUMNS} FROM {OLD}")
    op.drop_table(OLD)
    _indexes()  # after the rows: one build per partition, not row by row


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        with op.batch_alter_table(TABLE, schema=None) as batch_op:
            batch_op.drop_constraint('pk_received_records', type_='primary')
            batch_op.create_primary_key('pk_received_records', ['carrier_id', 'record_id'])
        return
    _set_aside()
    _create(['carrier_id', 'record_id'])
    # (carrier, record id) was unique by ingest's check before a row is written: keep the first should two differ
    op.execute(f"INSERT INTO {TABLE} ({COLUMNS}) SELECT {COLUMNS} FROM {OLD} ORDER BY received_at "
               f"ON CONFLICT DO NOTHING")
    op.drop_table(OLD)  # the partitions with it
    _indexes()
