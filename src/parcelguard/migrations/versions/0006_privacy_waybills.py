"""Privacy waybills: label settings, the label token's subject, virtual numbers and their bindings, call
records, scan events; the gate's default rules for printing labels, routing calls and delivering.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 04:31:03.441139
"""
from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parcelguard.core.db

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('privacy_numbers',
    sa.Column('number', sa.String(length=16), nullable=False),
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('added_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_privacy_numbers_carrier_id_carriers')),
    sa.PrimaryKeyConstraint('number', name=op.f('pk_privacy_numbers'))
    )
    with op.batch_alter_table('privacy_numbers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_privacy_numbers_carrier_id'), ['carrier_id'], unique=False)

    op.create_table('waybill_settings',
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('saved_by', sa.Uuid(), nullable=True),
    sa.Column('saved_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_waybill_settings_carrier_id_carriers')),
    sa.ForeignKeyConstraint(['saved_by'], ['users.id'], name=op.f('fk_waybill_settings_saved_by_users')),
    sa.PrimaryKeyConstraint('carrier_id', name=op.f('pk_waybill_settings'))
    )
    op.create_table('number_bindings',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('shipment_id', sa.Uuid(), nullable=False),
    sa.Column('number', sa.String(length=16), nullable=False),
    sa.Column('extension', sa.String(length=4), nullable=False),
    sa.Column('bound_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('released_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_number_bindings_carrier_id_carriers')),
    sa.ForeignKeyConstraint(['number'], ['privacy_numbers.number'], name=op.f('fk_number_bindings_number_privacy_numbers')),
    sa.ForeignKeyConstraint(['shipment_id'], ['shipments.id'], name=op.f('fk_number_bindings_shipment_id_shipments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_number_bindings'))
    )
    with op.batch_alter_table('number_bindings', schema=None) as batch_op:
        batch_op.create_index('ix_number_bindings_live_expiry', ['carrier_id', 'expires_at'], unique=False, sqlite_where=sa.text('released_at IS NULL'), postgresql_where=sa.text('released_at IS NULL'))
        batch_op.create_index('uq_number_bindings_live_pair', ['number', 'extension'], unique=True, sqlite_where=sa.text('released_at IS NULL'), postgresql_where=sa.text('released_at IS NULL'))
        batch_op.create_index('uq_number_bindings_live_shipment', ['shipment_id'], unique=True, sqlite_where=sa.text('released_at IS NULL'), postgresql_where=sa.text('released_at IS NULL'))

    op.create_table('scan_events',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('shipment_id', sa.Uuid(), nullable=False),
    sa.Column('event', sa.String(length=24), nullable=False),
    sa.Column('actor_id', sa.Uuid(), nullable=False),
    sa.Column('terminal_id', sa.Uuid(), nullable=True),
    sa.Column('station_id', sa.Uuid(), nullable=True),
    sa.Column('at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_scan_events_actor_id_users')),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_scan_events_carrier_id_carriers')),
    sa.ForeignKeyConstraint(['shipment_id'], ['shipments.id'], name=op.f('fk_scan_events_shipment_id_shipments')),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_scan_events_station_id_stations')),
    sa.ForeignKeyConstraint(['terminal_id'], ['terminals.id'], name=op.f('fk_scan_events_terminal_id_terminals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scan_events'))
    )
    with op.batch_alter_table('scan_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scan_events_carrier_id_actor_id_at'), ['carrier_id', 'actor_id', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_scan_events_shipment_id_at'), ['shipment_id', 'at'], unique=False)

    op.create_table('call_records',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('provider_call_id', sa.String(length=64), nullable=False),
    sa.Column('binding_id', sa.Uuid(), nullable=True),
    sa.Column('shipment_id', sa.Uuid(), nullable=True),
    sa.Column('started_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('received_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['binding_id'], ['number_bindings.id'], name=op.f('fk_call_records_binding_id_number_bindings')),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_call_records_carrier_id_carriers')),
    sa.ForeignKeyConstraint(['shipment_id'], ['shipments.id'], name=op.f('fk_call_records_shipment_id_shipments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_call_records')),
    sa.UniqueConstraint('carrier_id', 'provider_call_id', name=op.f('uq_call_records_carrier_id_provider_call_id'))
    )
    with op.batch_alter_table('call_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_call_records_shipment_id'), ['shipment_id'], unique=False)

    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('delivered_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('label_subject', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('recipient_phone_tail', sa.String(length=4), server_default=sa.text("''"), nullable=False))
        batch_op.create_unique_constraint(batch_op.f('uq_shipments_label_subject'), ['label_subject'])

    _backfill_label_subjects()
    _seed_defaults()


def downgrade() -> None:
    policies, limits = _tables()
    op.execute(policies.delete().where(policies.c.id.in_([_rule_id(r[0], r[1]) for r in NEW_RULES])))
    op.execute(limits.delete().where(limits.c.id.in_([_limit_id(r[0], r[1]) for r in NEW_LIMITS])))
    for role, period, base, _ in OLD_LIMITS:
        op.execute(limits.update().where(limits.c.id == _limit_id(role, period)).values(base=base))
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_shipments_label_subject'), type_='unique')
        batch_op.drop_column('recipient_phone_tail')
        batch_op.drop_column('label_subject')
        batch_op.drop_column('delivered_at')

    with op.batch_alter_table('call_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_call_records_shipment_id'))

    op.drop_table('call_records')
    with op.batch_alter_table('scan_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scan_events_shipment_id_at'))
        batch_op.drop_index(batch_op.f('ix_scan_events_carrier_id_actor_id_at'))

    op.drop_table('scan_events')
    with op.batch_alter_table('number_bindings', schema=None) as batch_op:
        batch_op.drop_index('uq_number_bindings_live_shipment', sqlite_where=sa.text('released_at IS NULL'), postgresql_where=sa.text('released_at IS NULL'))
        batch_op.drop_index('uq_number_bindings_live_pair', sqlite_where=sa.text('released_at IS NULL'), postgresql_where=sa.text('released_at IS NULL'))
        batch_op.drop_index('ix_number_bindings_live_expiry', sqlite_where=sa.text('released_at IS NULL'), postgresql_where=sa.text('released_at IS NULL'))

    op.drop_table('number_bindings')
    op.drop_table('waybill_settings')
    with op.batch_alter_table('privacy_numbers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_privacy_numbers_carrier_id'))

    op.drop_table('privacy_numbers')


# The platform's default rules (carrier_id NULL) grow by what labels, calls and HQ need. A carrier with
# a policy of its own keeps it: its admin adds these purposes when it wants them (docs/labels.md).
DAY = 24 * 3600
NEW_RULES = [
    # role, purpose, scope, fields, requires_case, grace_seconds
    # The courier who picked the parcel up prints its label (walk-in intake records that pickup).
    ("courier", "label_print", "assigned", ["recipient_address"], False, DAY),
    ("station_manager", "label_print", "station", ["recipient_address"], False, 0),
    ("enterprise", "label_print", "own_customer", ["recipient_address"], False, 0),
    # The telephony provider asks where to connect a call to a live virtual number.
    ("telephony", "call_routing", "carrier", ["recipient_phone"], False, 0),
]
NEW_LIMITS = [
    # role, period, base, per_assignment
    ("telephony", "hour", 20000, 0),
    ("telephony", "day", 200000, 0),
]
# An enterprise prints its own parcels' labels in batches of hundreds: 600 an hour was too few.
RAISED_LIMITS = [("enterprise", "hour", 6000, 0), ("enterprise", "day", 60000, 0)]
OLD_LIMITS = [("enterprise", "hour", 600, 0), ("enterprise", "day", 5000, 0)]
_NS = uuid.UUID("6f1d3c1e-3a57-4c55-9d8a-0c0ffee00002")  # as in 0002


def _rule_id(role: str, purpose: str) -> uuid.UUID:
    return uuid.uuid5(_NS, f"rule:{role}:{purpose}")


def _limit_id(role: str, period: str) -> uuid.UUID:
    return uuid.uuid5(_NS, f"limit:{role}:{period}")


def _tables() -> tuple[sa.TableClause, sa.TableClause]:
    policies = sa.table("reveal_policies", sa.column("id", sa.Uuid()), sa.column("carrier_id", sa.Uuid()),
                        sa.column("role", sa.String()), sa.column("purpose", sa.String()),
                        sa.column("scope", sa.String()), sa.column("fields", sa.JSON()),
                        sa.column("requires_case", sa.Boolean()), sa.column("grace_seconds", sa.Integer()))
    limits = sa.table("reveal_limits", sa.column("id", sa.Uuid()), sa.column("carrier_id", sa.Uuid()),
                      sa.column("role", sa.String()), sa.column("period", sa.String()),
                      sa.column("base", sa.Integer()), sa.column("per_assignment", sa.Integer()))
    return policies, limits


def _seed_defaults() -> None:
    policies, limits = _tables()
    op.bulk_insert(policies, [
        {"id": _rule_id(role, purpose), "carrier_id": None, "role": role, "purpose": purpose, "scope": scope,
         "fields": fields, "requires_case": case, "grace_seconds": grace}
        for role, purpose, scope, fields, case, grace in NEW_RULES
    ])
    op.bulk_insert(limits, [
        {"id": _limit_id(role, period), "carrier_id": None, "role": role, "period": period, "base": base,
         "per_assignment": per}
        for role, period, base, per in NEW_LIMITS
    ])
    for role, period, base, _ in RAISED_LIMITS:
        op.execute(limits.update().where(limits.c.id == _limit_id(role, period)).values(base=base))


def _backfill_label_subjects() -> None:
    """Shipments made before this revision get their random label subject now."""
    shipments = sa.table("shipments", sa.column("id", sa.Uuid()), sa.column("label_subject", sa.Uuid()))
    bind = op.get_bind()
    ids = bind.execute(sa.select(shipments.c.id).where(shipments.c.label_subject.is_(None))).scalars().all()
    for shipment_id in ids:
        bind.execute(shipments.update().where(shipments.c.id == shipment_id).values(label_subject=uuid.uuid4()))
