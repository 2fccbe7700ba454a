"""Retention's row deletion (issue 15): where each class's deletion got to, and the indexes it needs: a carrier's
parcels and registrations by the month they were made, and an index on each foreign key that points at a deleted
row, so the database's own check of that key does not read the whole table for every row deleted.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parcelguard.core.db

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("call_records", "ix_call_records_binding_id", ["binding_id"]),
    ("legal_holds", "ix_legal_holds_shipment_id", ["shipment_id"]),
    ("number_bindings", "ix_number_bindings_shipment_id", ["shipment_id"]),
    ("realname_registrations", "ix_realname_registrations_carrier_id_created_at", ["carrier_id", "created_at"]),
    ("shipments", "ix_shipments_carrier_id_created_at", ["carrier_id", "created_at"]),
    ("webhook_deliveries", "ix_webhook_deliveries_shipment_id", ["shipment_id"]),
)


def upgrade() -> None:
    op.create_table(
        "retention_progress",
        sa.Column("carrier_id", sa.Uuid(), nullable=False),
        sa.Column("data_class", sa.String(length=64), nullable=False),
        sa.Column("deleted_before", parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["carrier_id"], ["carriers.id"], name=op.f("fk_retention_progress_carrier_id_carriers")),
        sa.PrimaryKeyConstraint("carrier_id", "data_class", name=op.f("pk_retention_progress")),
    )
    for table, name, columns in INDEXES:  # plain CREATE INDEX on both engines: no table is rebuilt
        op.create_index(name, table, columns)


def downgrade() -> None:
    for table, name, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_table("retention_progress")
