"""An import's accepted rows are its orders (issue 16, bulk import speed): an order keeps its row of the file
(`orders.import_row`) and its state is the row's, so `order_import_rows` keeps only the refused rows and why. The
import no longer writes a second row per order, nor updates one per carrier answer.

Revision ID: enterprise_0004
Revises: enterprise_0003
Create Date: 2026-12-07 05:34:58
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'enterprise_0004'
down_revision: str | None = 'enterprise_0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # `orders` is altered in place, not rebuilt as batch mode does on SQLite: a rebuild drops the table, which
    # SQLite's foreign keys refuse while rows refer to it.
    op.add_column('orders', sa.Column('import_row', sa.Integer(), nullable=True))
    op.drop_index(op.f('ix_orders_import_id'), table_name='orders')
    op.create_index(op.f('ix_orders_import_id_import_row'), 'orders', ['import_id', 'import_row'], unique=False)
    op.execute("UPDATE orders SET import_row = (SELECT r.row_number FROM order_import_rows r "
               "WHERE r.order_id = orders.id) WHERE import_id IS NOT NULL")
    op.execute("DELETE FROM order_import_rows WHERE order_id IS NOT NULL")
    op.execute("UPDATE order_import_rows SET errors = '[]' WHERE errors IS NULL")
    with op.batch_alter_table('order_import_rows', schema=None) as batch_op:
        batch_op.alter_column('errors', existing_type=sa.Text(), nullable=False)
        batch_op.drop_constraint(batch_op.f('fk_order_import_rows_order_id_orders'), type_='foreignkey')
        batch_op.drop_column('order_id')
        batch_op.drop_column('status')
        batch_op.drop_column('failure_code')


def downgrade() -> None:
    with op.batch_alter_table('order_import_rows', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failure_code', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('status', sa.String(length=16), nullable=False, server_default='refused'))
        batch_op.add_column(sa.Column('order_id', sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_order_import_rows_order_id_orders'), 'orders', ['order_id'], ['id'])
        batch_op.alter_column('errors', existing_type=sa.Text(), nullable=True)
    op.execute("INSERT INTO order_import_rows (import_id, row_number, order_id, status, failure_code) "
               "SELECT import_id, import_row, id, CASE status WHEN 'cancelled' THEN 'created' ELSE status END, "
               "failure_code FROM orders WHERE import_id IS NOT NULL")
    with op.batch_alter_table('order_import_rows', schema=None) as batch_op:
        batch_op.alter_column('status', existing_type=sa.String(length=16), server_default=None)
    op.drop_index(op.f('ix_orders_import_id_import_row'), table_name='orders')
    op.create_index(op.f('ix_orders_import_id'), 'orders', ['import_id'], unique=False)
    op.execute("ALTER TABLE orders DROP COLUMN import_row")  # in place, as the upgrade adds it
