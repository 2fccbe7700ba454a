"""Incidents (issue 14): the workflow's record, the accounts, alerts and parcels each concerns, and the signed
reports to the regulator.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 22:30:08
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parcelguard.core.db

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('incidents',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('reference', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('summary', sa.String(length=2000), nullable=False),
    sa.Column('opened_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('opened_by', sa.Uuid(), nullable=True),
    sa.Column('contained_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('contained_by', sa.Uuid(), nullable=True),
    sa.Column('assessed_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('assessment', sa.JSON(), nullable=True),
    sa.Column('remedied_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('remedy_actions', sa.JSON(), nullable=True),
    sa.Column('remedy_note', sa.String(length=2000), nullable=True),
    sa.Column('reported_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('dismissed_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('dismiss_reason', sa.String(length=2000), nullable=True),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_incidents_carrier_id_carriers')),
    sa.ForeignKeyConstraint(['contained_by'], ['users.id'], name=op.f('fk_incidents_contained_by_users')),
    sa.ForeignKeyConstraint(['opened_by'], ['users.id'], name=op.f('fk_incidents_opened_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incidents')),
    sa.UniqueConstraint('carrier_id', 'reference', name=op.f('uq_incidents_carrier_id_reference'))
    )
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incidents_carrier_id_opened_at'), ['carrier_id', 'opened_at'], unique=False)

    op.create_table('incident_accounts',
    sa.Column('incident_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('added_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('disabled_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_accounts_incident_id_incidents')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_incident_accounts_user_id_users')),
    sa.PrimaryKeyConstraint('incident_id', 'user_id', name=op.f('pk_incident_accounts'))
    )
    with op.batch_alter_table('incident_accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_accounts_user_id'), ['user_id'], unique=False)

    op.create_table('incident_alerts',
    sa.Column('alert_id', sa.Uuid(), nullable=False),
    sa.Column('incident_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_incident_alerts_alert_id_alerts')),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_alerts_incident_id_incidents')),
    sa.PrimaryKeyConstraint('alert_id', name=op.f('pk_incident_alerts'))
    )
    with op.batch_alter_table('incident_alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_alerts_incident_id'), ['incident_id'], unique=False)

    op.create_table('incident_reports',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('incident_id', sa.Uuid(), nullable=False),
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('signature', sa.LargeBinary(length=64), nullable=False),
    sa.Column('key_id', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=200), nullable=True),
    sa.Column('last_attempt_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('receipt', sa.LargeBinary(), nullable=True),
    sa.Column('receipt_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_incident_reports_carrier_id_carriers')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_incident_reports_created_by_users')),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_reports_incident_id_incidents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_reports')),
    sa.UniqueConstraint('incident_id', name=op.f('uq_incident_reports_incident_id'))
    )
    with op.batch_alter_table('incident_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_reports_carrier_id_receipt_at'), ['carrier_id', 'receipt_at'], unique=False)

    op.create_table('incident_subjects',
    sa.Column('incident_id', sa.Uuid(), nullable=False),
    sa.Column('shipment_id', sa.Uuid(), nullable=False),
    sa.Column('reveals', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_subjects_incident_id_incidents')),
    sa.PrimaryKeyConstraint('incident_id', 'shipment_id', name=op.f('pk_incident_subjects'))
    )


def downgrade() -> None:
    op.drop_table('incident_subjects')
    with op.batch_alter_table('incident_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incident_reports_carrier_id_receipt_at'))

    op.drop_table('incident_reports')
    with op.batch_alter_table('incident_alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incident_alerts_incident_id'))

    op.drop_table('incident_alerts')
    with op.batch_alter_table('incident_accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incident_accounts_user_id'))

    op.drop_table('incident_accounts')
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incidents_carrier_id_opened_at'))

    op.drop_table('incidents')
