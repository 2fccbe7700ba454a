"""The enterprise console's orders (issue 16): each order's carrier, price, state and the carrier's answer, its
parties sealed, the recipient's masked views and blind indexes; and the access log of searches and reveals,
hash-chained per company.

Revision ID: enterprise_0002
Revises: enterprise_0001
Create Date: 2026-12-07 02:45:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parcelguard.core.db

revision: str = 'enterprise_0002'
down_revision: str | None = 'enterprise_0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('access_log',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('company_id', sa.Uuid(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('employee_id', sa.Uuid(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('subject', sa.String(length=64), nullable=False),
    sa.Column('purpose', sa.String(length=32), nullable=False),
    sa.Column('found', sa.Integer(), nullable=False),
    sa.Column('prev_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('hash', sa.LargeBinary(length=32), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name=op.f('fk_access_log_company_id_companies')),
    sa.ForeignKeyConstraint(['employee_id'], ['employees.id'], name=op.f('fk_access_log_employee_id_employees')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_log')),
    sa.UniqueConstraint('company_id', 'seq', name=op.f('uq_access_log_company_id_seq'))
    )
    op.create_table('orders',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('company_id', sa.Uuid(), nullable=False),
    sa.Column('connection_id', sa.Uuid(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('failure_code', sa.String(length=64), nullable=True),
    sa.Column('carrier_shipment_id', sa.String(length=64), nullable=True),
    sa.Column('waybill_no', sa.String(length=32), nullable=True),
    sa.Column('price_fen', sa.Integer(), nullable=True),
    sa.Column('weight_g', sa.Integer(), nullable=False),
    sa.Column('origin_province', sa.String(length=16), nullable=False),
    sa.Column('destination_province', sa.String(length=16), nullable=False),
    sa.Column('destination_city', sa.String(length=32), nullable=False),
    sa.Column('recipient_name_masked', sa.String(length=64), nullable=False),
    sa.Column('recipient_phone_tail', sa.String(length=4), nullable=False),
    sa.Column('recipient_name_index', sa.LargeBinary(length=17), nullable=False),
    sa.Column('recipient_phone_index', sa.LargeBinary(length=17), nullable=False),
    sa.Column('sealed', sa.LargeBinary(), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=False),
    sa.Column('created_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name=op.f('fk_orders_company_id_companies')),
    sa.ForeignKeyConstraint(['connection_id'], ['carrier_connections.id'], name=op.f('fk_orders_connection_id_carrier_connections')),
    sa.ForeignKeyConstraint(['created_by'], ['employees.id'], name=op.f('fk_orders_created_by_employees')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders'))
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_orders_company_id_created_at'), ['company_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_orders_company_id_recipient_name_index'), ['company_id', 'recipient_name_index'], unique=False)
        batch_op.create_index(batch_op.f('ix_orders_company_id_recipient_phone_index'), ['company_id', 'recipient_phone_index'], unique=False)
        batch_op.create_index(batch_op.f('ix_orders_company_id_waybill_no'), ['company_id', 'waybill_no'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_orders_company_id_waybill_no'))
        batch_op.drop_index(batch_op.f('ix_orders_company_id_recipient_phone_index'))
        batch_op.drop_index(batch_op.f('ix_orders_company_id_recipient_name_index'))
        batch_op.drop_index(batch_op.f('ix_orders_company_id_created_at'))

    op.drop_table('orders')
    op.drop_table('access_log')
