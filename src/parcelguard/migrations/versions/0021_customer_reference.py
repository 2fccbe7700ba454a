"""A contract customer's own id for a parcel (issue 16): `shipments.customer_reference`, unique per carrier and
customer where given, so a parcel sent again under the same reference is answered, not taken in twice.

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("shipments", sa.Column("customer_reference", sa.String(length=64), nullable=True))  # in place
    op.create_index("uq_shipments_customer_reference", "shipments", ["carrier_id", "customer_id", "customer_reference"],
                    unique=True, sqlite_where=sa.text("customer_reference IS NOT NULL"),
                    postgresql_where=sa.text("customer_reference IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("uq_shipments_customer_reference", table_name="shipments")
    with op.batch_alter_table("shipments") as batch_op:
        batch_op.drop_column("customer_reference")
