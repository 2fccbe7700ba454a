"""Real-name intake: sealed real-name records and their outbox, sender registrations (real-name QR),
staff documents (blind indexes), shipment items, waybill counters and the shipment's masked and
sorting columns.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 20:13:49.621473
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parcelguard.core.db

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Blocks of 100 waybill counters (waybills.service): nextval takes no lock.
        op.execute("CREATE SEQUENCE waybill_blocks START 1")
    op.create_table('realname_registrations',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('doc_type', sa.String(length=32), nullable=False),
    sa.Column('doc_masked', sa.String(length=40), nullable=False),
    sa.Column('name_masked', sa.String(length=64), nullable=False),
    sa.Column('blind_index', sa.LargeBinary(length=32), nullable=False),
    sa.Column('sealed', sa.LargeBinary(), nullable=False),
    sa.Column('name', sa.LargeBinary(), nullable=False),
    sa.Column('phone', sa.LargeBinary(), nullable=False),
    sa.Column('refresh_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('created_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_realname_registrations_carrier_id_carriers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_realname_registrations'))
    )
    with op.batch_alter_table('realname_registrations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_realname_registrations_carrier_id_blind_index'), ['carrier_id', 'blind_index'], unique=False)

    op.create_table('waybill_counters',
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('next_value', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_waybill_counters_carrier_id_carriers')),
    sa.PrimaryKeyConstraint('carrier_id', name=op.f('pk_waybill_counters'))
    )
    op.create_table('staff_documents',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('blind_index', sa.LargeBinary(length=32), nullable=False),
    sa.Column('registered_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_staff_documents_carrier_id_carriers')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_staff_documents_user_id_users')),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_staff_documents'))
    )
    with op.batch_alter_table('staff_documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_documents_carrier_id_blind_index'), ['carrier_id', 'blind_index'], unique=False)

    op.create_table('realname_records',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('shipment_id', sa.Uuid(), nullable=False),
    sa.Column('doc_type', sa.String(length=32), nullable=False),
    sa.Column('doc_masked', sa.String(length=40), nullable=False),
    sa.Column('name_masked', sa.String(length=64), nullable=False),
    sa.Column('blind_index', sa.LargeBinary(length=32), nullable=False),
    sa.Column('sealed', sa.LargeBinary(), nullable=True),
    sa.Column('seal_context', sa.String(length=200), nullable=False),
    sa.Column('created_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('receipt_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_realname_records_carrier_id_carriers')),
    sa.ForeignKeyConstraint(['shipment_id'], ['shipments.id'], name=op.f('fk_realname_records_shipment_id_shipments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_realname_records')),
    sa.UniqueConstraint('shipment_id', name=op.f('uq_realname_records_shipment_id'))
    )
    with op.batch_alter_table('realname_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_realname_records_carrier_id_blind_index_created_at'), ['carrier_id', 'blind_index', 'created_at'], unique=False)

    op.create_table('shipment_items',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('shipment_id', sa.Uuid(), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('description', sa.LargeBinary(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('declared_value_cents', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['shipment_id'], ['shipments.id'], name=op.f('fk_shipment_items_shipment_id_shipments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shipment_items'))
    )
    with op.batch_alter_table('shipment_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shipment_items_shipment_id'), ['shipment_id'], unique=False)

    op.create_table('regulator_outbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('record_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=200), nullable=True),
    sa.Column('delivered_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_regulator_outbox_carrier_id_carriers')),
    sa.ForeignKeyConstraint(['record_id'], ['realname_records.id'], name=op.f('fk_regulator_outbox_record_id_realname_records')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_regulator_outbox')),
    sa.UniqueConstraint('record_id', name=op.f('uq_regulator_outbox_record_id'))
    )
    with op.batch_alter_table('regulator_outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_regulator_outbox_delivered_at_id'), ['delivered_at', 'id'], unique=False)

    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('waybill_no', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('status', sa.String(length=16), server_default=sa.text("'accepted'"), nullable=False))
        batch_op.add_column(sa.Column('sender_kind', sa.String(length=16), server_default=sa.text("'walk_in'"), nullable=False))
        batch_op.add_column(sa.Column('taken_in_by', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('inspected', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('sender_name_masked', sa.String(length=64), server_default=sa.text("''"), nullable=False))
        batch_op.add_column(sa.Column('recipient_name_masked', sa.String(length=64), server_default=sa.text("''"), nullable=False))
        batch_op.add_column(sa.Column('recipient_province', sa.String(length=32), server_default=sa.text("''"), nullable=False))
        batch_op.add_column(sa.Column('recipient_city', sa.String(length=32), server_default=sa.text("''"), nullable=False))
        batch_op.add_column(sa.Column('recipient_district', sa.String(length=32), server_default=sa.text("''"), nullable=False))
        batch_op.create_unique_constraint(batch_op.f('uq_shipments_carrier_id_waybill_no'), ['carrier_id', 'waybill_no'])
        batch_op.create_foreign_key(batch_op.f('fk_shipments_taken_in_by_users'), 'users', ['taken_in_by'], ['id'])



def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE IF EXISTS waybill_blocks")
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_shipments_taken_in_by_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_shipments_carrier_id_waybill_no'), type_='unique')
        batch_op.drop_column('recipient_district')
        batch_op.drop_column('recipient_city')
        batch_op.drop_column('recipient_province')
        batch_op.drop_column('recipient_name_masked')
        batch_op.drop_column('sender_name_masked')
        batch_op.drop_column('inspected')
        batch_op.drop_column('taken_in_by')
        batch_op.drop_column('sender_kind')
        batch_op.drop_column('status')
        batch_op.drop_column('waybill_no')

    with op.batch_alter_table('regulator_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_regulator_outbox_delivered_at_id'))

    op.drop_table('regulator_outbox')
    with op.batch_alter_table('shipment_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shipment_items_shipment_id'))

    op.drop_table('shipment_items')
    with op.batch_alter_table('realname_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_realname_records_carrier_id_blind_index_created_at'))

    op.drop_table('realname_records')
    with op.batch_alter_table('staff_documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_documents_carrier_id_blind_index'))

    op.drop_table('staff_documents')
    op.drop_table('waybill_counters')
    with op.batch_alter_table('realname_registrations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_realname_registrations_carrier_id_blind_index'))

    op.drop_table('realname_registrations')
