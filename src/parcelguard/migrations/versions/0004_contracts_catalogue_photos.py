"""Contract customers' agreements, inspection photos and draws, the catalogue as a versioned table,
rate-limit counters, and the carrier setting that refuses a courier's own document at intake.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 01:53:16.381388
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parcelguard.core.db

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('rate_counters',
    sa.Column('key', sa.String(length=96), nullable=False),
    sa.Column('window_start', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key', 'window_start', name=op.f('pk_rate_counters'))
    )
    op.create_table('catalogue_versions',
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('data', sa.Text(), nullable=True),
    sa.Column('saved_by', sa.Uuid(), nullable=True),
    sa.Column('saved_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_catalogue_versions_carrier_id_carriers')),
    sa.ForeignKeyConstraint(['saved_by'], ['users.id'], name=op.f('fk_catalogue_versions_saved_by_users')),
    sa.PrimaryKeyConstraint('carrier_id', 'version', name=op.f('pk_catalogue_versions'))
    )
    op.create_table('customer_agreements',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('station_id', sa.Uuid(), nullable=False),
    sa.Column('organisation_name', sa.String(length=200), nullable=False),
    sa.Column('uscc', sa.String(length=18), nullable=False),
    sa.Column('uscc_index', sa.LargeBinary(length=32), nullable=False),
    sa.Column('responsible_doc_type', sa.String(length=32), nullable=False),
    sa.Column('responsible_doc_masked', sa.String(length=40), nullable=False),
    sa.Column('responsible_name_masked', sa.String(length=64), nullable=False),
    sa.Column('responsible_index', sa.LargeBinary(length=32), nullable=False),
    sa.Column('sealed', sa.LargeBinary(), nullable=False),
    sa.Column('inspection_permille', sa.Integer(), nullable=False),
    sa.Column('verified_by', sa.Uuid(), nullable=False),
    sa.Column('created_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_by', sa.Uuid(), nullable=True),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_customer_agreements_carrier_id_carriers')),
    sa.ForeignKeyConstraint(['customer_id'], ['users.id'], name=op.f('fk_customer_agreements_customer_id_users')),
    sa.ForeignKeyConstraint(['revoked_by'], ['users.id'], name=op.f('fk_customer_agreements_revoked_by_users')),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_customer_agreements_station_id_stations')),
    sa.ForeignKeyConstraint(['verified_by'], ['users.id'], name=op.f('fk_customer_agreements_verified_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_agreements'))
    )
    with op.batch_alter_table('customer_agreements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_agreements_carrier_id_station_id'), ['carrier_id', 'station_id'], unique=False)
        batch_op.create_index('uq_customer_agreements_active_customer', ['customer_id'], unique=True, sqlite_where=sa.text('revoked_at IS NULL'), postgresql_where=sa.text('revoked_at IS NULL'))

    op.create_table('inspection_photos',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('shipment_id', sa.Uuid(), nullable=False),
    sa.Column('content_type', sa.String(length=32), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('image', sa.LargeBinary(), nullable=False),
    sa.Column('taken_by', sa.Uuid(), nullable=False),
    sa.Column('created_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_inspection_photos_carrier_id_carriers')),
    sa.ForeignKeyConstraint(['shipment_id'], ['shipments.id'], name=op.f('fk_inspection_photos_shipment_id_shipments')),
    sa.ForeignKeyConstraint(['taken_by'], ['users.id'], name=op.f('fk_inspection_photos_taken_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection_photos'))
    )
    with op.batch_alter_table('inspection_photos', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspection_photos_shipment_id'), ['shipment_id'], unique=False)

    with op.batch_alter_table('carriers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refuse_courier_own_id', sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('inspected_by', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('inspected_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('inspection_draw', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('agreement_id', sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_shipments_inspected_by_users'), 'users', ['inspected_by'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_shipments_agreement_id_customer_agreements'), 'customer_agreements', ['agreement_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_shipments_agreement_id_customer_agreements'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_shipments_inspected_by_users'), type_='foreignkey')
        batch_op.drop_column('agreement_id')
        batch_op.drop_column('inspection_draw')
        batch_op.drop_column('inspected_at')
        batch_op.drop_column('inspected_by')

    with op.batch_alter_table('carriers', schema=None) as batch_op:
        batch_op.drop_column('refuse_courier_own_id')

    with op.batch_alter_table('inspection_photos', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspection_photos_shipment_id'))

    op.drop_table('inspection_photos')
    with op.batch_alter_table('customer_agreements', schema=None) as batch_op:
        batch_op.drop_index('uq_customer_agreements_active_customer', sqlite_where=sa.text('revoked_at IS NULL'), postgresql_where=sa.text('revoked_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_customer_agreements_carrier_id_station_id'))

    op.drop_table('customer_agreements')
    op.drop_table('catalogue_versions')
    op.drop_table('rate_counters')
