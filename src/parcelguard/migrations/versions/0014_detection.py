"""Detection (issue 14): a carrier's detection thresholds, the record of each run, and departure reports (a retired
account's last 90 days of access, as counts).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 20:30:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parcelguard.core.db

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('detection_settings',
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('thresholds', sa.JSON(), nullable=False),
    sa.Column('updated_by', sa.Uuid(), nullable=True),
    sa.Column('updated_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_detection_settings_carrier_id_carriers')),
    sa.ForeignKeyConstraint(['updated_by'], ['users.id'], name=op.f('fk_detection_settings_updated_by_users')),
    sa.PrimaryKeyConstraint('carrier_id', name=op.f('pk_detection_settings'))
    )
    op.create_table('detection_runs',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('trigger', sa.String(length=16), nullable=False),
    sa.Column('started_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('window_start', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('window_end', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('history_start', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actors', sa.Integer(), nullable=False),
    sa.Column('findings', sa.Integer(), nullable=False),
    sa.Column('alerts_raised', sa.Integer(), nullable=False),
    sa.Column('duration_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_detection_runs_carrier_id_carriers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_detection_runs'))
    )
    with op.batch_alter_table('detection_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_detection_runs_carrier_id_started_at'), ['carrier_id', 'started_at'],
                              unique=False)

    op.create_table('departure_reports',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('retired_by', sa.Uuid(), nullable=True),
    sa.Column('created_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('period_start', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('period_end', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('entries', sa.Integer(), nullable=False),
    sa.Column('reveals', sa.Integer(), nullable=False),
    sa.Column('distinct_subjects', sa.Integer(), nullable=False),
    sa.Column('denied', sa.Integer(), nullable=False),
    sa.Column('off_shift', sa.Integer(), nullable=False),
    sa.Column('untasked', sa.Integer(), nullable=False),
    sa.Column('last_index', sa.BigInteger(), nullable=True),
    sa.Column('breakdown', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_departure_reports_carrier_id_carriers')),
    sa.ForeignKeyConstraint(['retired_by'], ['users.id'], name=op.f('fk_departure_reports_retired_by_users')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_departure_reports_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_departure_reports'))
    )
    with op.batch_alter_table('departure_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_departure_reports_carrier_id_user_id'), ['carrier_id', 'user_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_departure_reports_carrier_id_created_at'), ['carrier_id', 'created_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('departure_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_departure_reports_carrier_id_created_at'))
        batch_op.drop_index(batch_op.f('ix_departure_reports_carrier_id_user_id'))
    op.drop_table('departure_reports')
    with op.batch_alter_table('detection_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_detection_runs_carrier_id_started_at'))
    op.drop_table('detection_runs')
    op.drop_table('detection_settings')
