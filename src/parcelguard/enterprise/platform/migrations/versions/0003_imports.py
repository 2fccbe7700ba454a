"""The enterprise console's order imports (issue 16, bulk orders): each imported file's counters and state, each
of its rows' result (its order, or the checks it failed: pointers and codes only), and the import an order came in.

Revision ID: enterprise_0003
Revises: enterprise_0002
Create Date: 2026-12-07 02:41:50
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parcelguard.core.db

revision: str = 'enterprise_0003'
down_revision: str | None = 'enterprise_0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('order_imports',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('company_id', sa.Uuid(), nullable=False),
    sa.Column('connection_id', sa.Uuid(), nullable=False),
    sa.Column('file_name', sa.String(length=200), nullable=False),
    sa.Column('file_sha256', sa.LargeBinary(length=32), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('accepted', sa.Integer(), nullable=False),
    sa.Column('refused', sa.Integer(), nullable=False),
    sa.Column('sent', sa.Integer(), nullable=False),
    sa.Column('created', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=False),
    sa.Column('created_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name=op.f('fk_order_imports_company_id_companies')),
    sa.ForeignKeyConstraint(['connection_id'], ['carrier_connections.id'], name=op.f('fk_order_imports_connection_id_carrier_connections')),
    sa.ForeignKeyConstraint(['created_by'], ['employees.id'], name=op.f('fk_order_imports_created_by_employees')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_imports'))
    )
    with op.batch_alter_table('order_imports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_imports_company_id_created_at'), ['company_id', 'created_at'], unique=False)

    op.create_table('order_import_rows',
    sa.Column('import_id', sa.Uuid(), nullable=False),
    sa.Column('row_number', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('order_id', sa.Uuid(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('errors', sa.Text(), nullable=True),
    sa.Column('failure_code', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['import_id'], ['order_imports.id'], name=op.f('fk_order_import_rows_import_id_order_imports')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_import_rows_order_id_orders')),
    sa.PrimaryKeyConstraint('import_id', 'row_number', name=op.f('pk_order_import_rows'))
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('import_id', sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f('ix_orders_import_id'), ['import_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_orders_import_id_order_imports'), 'order_imports', ['import_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_orders_import_id_order_imports'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_orders_import_id'))
        batch_op.drop_column('import_id')

    op.drop_table('order_import_rows')
    with op.batch_alter_table('order_imports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_imports_company_id_created_at'))

    op.drop_table('order_imports')
