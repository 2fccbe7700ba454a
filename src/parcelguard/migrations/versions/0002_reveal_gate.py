"""The personal-data gate: shipments and assignments, reveal policy and ceilings (seeded with the
platform defaults), reveal counters, investigation cases and alerts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 18:49:01.743142
"""
from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parcelguard.core.db

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('reveal_limits',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('carrier_id', sa.Uuid(), nullable=True),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('period', sa.String(length=8), nullable=False),
    sa.Column('base', sa.Integer(), nullable=False),
    sa.Column('per_assignment', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_reveal_limits_carrier_id_carriers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reveal_limits')),
    sa.UniqueConstraint('carrier_id', 'role', 'period', name=op.f('uq_reveal_limits_carrier_id_role_period'))
    )
    op.create_table('reveal_policies',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('carrier_id', sa.Uuid(), nullable=True),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('purpose', sa.String(length=64), nullable=False),
    sa.Column('scope', sa.String(length=32), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('requires_case', sa.Boolean(), nullable=False),
    sa.Column('grace_seconds', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_reveal_policies_carrier_id_carriers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reveal_policies')),
    sa.UniqueConstraint('carrier_id', 'role', 'purpose', name=op.f('uq_reveal_policies_carrier_id_role_purpose'))
    )
    op.create_table('alerts',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('dedupe_key', sa.String(length=200), nullable=False),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.Column('raised_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('audit_index', sa.BigInteger(), nullable=True),
    sa.Column('acknowledged_by', sa.Uuid(), nullable=True),
    sa.Column('acknowledged_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['acknowledged_by'], ['users.id'], name=op.f('fk_alerts_acknowledged_by_users')),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_alerts_actor_id_users')),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_alerts_carrier_id_carriers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts')),
    sa.UniqueConstraint('carrier_id', 'dedupe_key', name=op.f('uq_alerts_carrier_id_dedupe_key'))
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alerts_carrier_id_raised_at'), ['carrier_id', 'raised_at'], unique=False)

    op.create_table('investigation_cases',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('reference', sa.String(length=64), nullable=False),
    sa.Column('summary', sa.String(length=500), nullable=False),
    sa.Column('opened_by', sa.Uuid(), nullable=False),
    sa.Column('opened_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_by', sa.Uuid(), nullable=True),
    sa.Column('closed_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_investigation_cases_carrier_id_carriers')),
    sa.ForeignKeyConstraint(['closed_by'], ['users.id'], name=op.f('fk_investigation_cases_closed_by_users')),
    sa.ForeignKeyConstraint(['opened_by'], ['users.id'], name=op.f('fk_investigation_cases_opened_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_investigation_cases')),
    sa.UniqueConstraint('carrier_id', 'reference', name=op.f('uq_investigation_cases_carrier_id_reference'))
    )
    op.create_table('reveal_counters',
    sa.Column('actor_id', sa.Uuid(), nullable=False),
    sa.Column('period', sa.String(length=8), nullable=False),
    sa.Column('period_start', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_reveal_counters_actor_id_users')),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_reveal_counters_carrier_id_carriers')),
    sa.PrimaryKeyConstraint('actor_id', 'period', 'period_start', name=op.f('pk_reveal_counters'))
    )
    with op.batch_alter_table('reveal_counters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reveal_counters_carrier_id'), ['carrier_id'], unique=False)

    op.create_table('shipments',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('origin_station_id', sa.Uuid(), nullable=False),
    sa.Column('destination_station_id', sa.Uuid(), nullable=True),
    sa.Column('customer_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sender_name', sa.LargeBinary(), nullable=False),
    sa.Column('sender_phone', sa.LargeBinary(), nullable=False),
    sa.Column('sender_address', sa.LargeBinary(), nullable=False),
    sa.Column('recipient_name', sa.LargeBinary(), nullable=False),
    sa.Column('recipient_phone', sa.LargeBinary(), nullable=False),
    sa.Column('recipient_address', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_shipments_carrier_id_carriers')),
    sa.ForeignKeyConstraint(['customer_id'], ['users.id'], name=op.f('fk_shipments_customer_id_users')),
    sa.ForeignKeyConstraint(['destination_station_id'], ['stations.id'], name=op.f('fk_shipments_destination_station_id_stations')),
    sa.ForeignKeyConstraint(['origin_station_id'], ['stations.id'], name=op.f('fk_shipments_origin_station_id_stations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shipments'))
    )
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shipments_carrier_id_customer_id'), ['carrier_id', 'customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_shipments_carrier_id_destination_station_id'), ['carrier_id', 'destination_station_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_shipments_carrier_id_origin_station_id'), ['carrier_id', 'origin_station_id'], unique=False)

    op.create_table('shipment_assignments',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('shipment_id', sa.Uuid(), nullable=False),
    sa.Column('courier_id', sa.Uuid(), nullable=False),
    sa.Column('task', sa.String(length=16), nullable=False),
    sa.Column('opened_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_shipment_assignments_carrier_id_carriers')),
    sa.ForeignKeyConstraint(['courier_id'], ['users.id'], name=op.f('fk_shipment_assignments_courier_id_users')),
    sa.ForeignKeyConstraint(['shipment_id'], ['shipments.id'], name=op.f('fk_shipment_assignments_shipment_id_shipments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shipment_assignments'))
    )
    with op.batch_alter_table('shipment_assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shipment_assignments_carrier_id_courier_id_opened_at'), ['carrier_id', 'courier_id', 'opened_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_shipment_assignments_shipment_id_courier_id'), ['shipment_id', 'courier_id'], unique=False)

    _seed_defaults()



def downgrade() -> None:
    with op.batch_alter_table('shipment_assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shipment_assignments_shipment_id_courier_id'))
        batch_op.drop_index(batch_op.f('ix_shipment_assignments_carrier_id_courier_id_opened_at'))

    op.drop_table('shipment_assignments')
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shipments_carrier_id_origin_station_id'))
        batch_op.drop_index(batch_op.f('ix_shipments_carrier_id_destination_station_id'))
        batch_op.drop_index(batch_op.f('ix_shipments_carrier_id_customer_id'))

    op.drop_table('shipments')
    with op.batch_alter_table('reveal_counters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reveal_counters_carrier_id'))

    op.drop_table('reveal_counters')
    op.drop_table('investigation_cases')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alerts_carrier_id_raised_at'))

    op.drop_table('alerts')
    op.drop_table('reveal_policies')
    op.drop_table('reveal_limits')


# The platform's default policy (rows without a carrier). Couriers get no phone numbers: they call
# through a virtual number, and nothing on a terminal carries a full phone (promise 1).
SENDER = ["sender_name", "sender_phone", "sender_address"]
RECIPIENT = ["recipient_name", "recipient_phone", "recipient_address"]
DAY = 24 * 3600
DEFAULT_RULES = [
    # role, purpose, scope, fields, requires_case, grace_seconds
    ("courier", "pickup", "assigned", ["sender_name", "sender_address"], False, DAY),
    ("courier", "delivery", "assigned", ["recipient_name", "recipient_address"], False, DAY),
    ("station_manager", "customer_service", "station", SENDER + RECIPIENT, False, 0),
    ("station_manager", "exception_handling", "station", SENDER + RECIPIENT, False, 0),
    ("hq_security", "investigation", "carrier", SENDER + RECIPIENT, True, 0),
    ("enterprise", "customer_service", "own_customer", RECIPIENT, False, 0),
]
DEFAULT_LIMITS = [
    # role, period, base, per_assignment: the ceiling is base + per_assignment x tasks open in the period
    ("courier", "hour", 5, 3),
    ("courier", "day", 5, 3),
    ("station_manager", "hour", 60, 0),
    ("station_manager", "day", 300, 0),
    ("hq_security", "hour", 200, 0),
    ("hq_security", "day", 1000, 0),
    ("enterprise", "hour", 600, 0),
    ("enterprise", "day", 5000, 0),
]
_NS = uuid.UUID("6f1d3c1e-3a57-4c55-9d8a-0c0ffee00002")


def _seed_defaults() -> None:
    policies = sa.table("reveal_policies", sa.column("id", sa.Uuid()), sa.column("carrier_id", sa.Uuid()),
                        sa.column("role", sa.String()), sa.column("purpose", sa.String()),
                        sa.column("scope", sa.String()), sa.column("fields", sa.JSON()),
                        sa.column("requires_case", sa.Boolean()), sa.column("grace_seconds", sa.Integer()))
    limits = sa.table("reveal_limits", sa.column("id", sa.Uuid()), sa.column("carrier_id", sa.Uuid()),
                      sa.column("role", sa.String()), sa.column("period", sa.String()),
                      sa.column("base", sa.Integer()), sa.column("per_assignment", sa.Integer()))
    op.bulk_insert(policies, [
        {"id": uuid.uuid5(_NS, f"rule:{role}:{purpose}"), "carrier_id": None, "role": role, "purpose": purpose,
         "scope": scope, "fields": fields, "requires_case": case, "grace_seconds": grace}
        for role, purpose, scope, fields, case, grace in DEFAULT_RULES
    ])
    op.bulk_insert(limits, [
        {"id": uuid.uuid5(_NS, f"limit:{role}:{period}"), "carrier_id": None, "role": role, "period": period,
         "base": base, "per_assignment": per}
        for role, period, base, per in DEFAULT_LIMITS
    ])

