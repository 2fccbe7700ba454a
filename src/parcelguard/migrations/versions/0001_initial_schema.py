"""Initial schema: carriers, stations, accounts, tokens, terminals, login throttling, the key tables and the audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-25 06:09:29.628881
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parcelguard.core.db

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('carriers',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('slug', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('waybill_prefix', sa.String(length=4), nullable=False),
    sa.Column('created_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_carriers')),
    sa.UniqueConstraint('slug', name=op.f('uq_carriers_slug')),
    sa.UniqueConstraint('waybill_prefix', name=op.f('uq_carriers_waybill_prefix'))
    )
    op.create_table('crypto_index_keys',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('wrapped_key', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crypto_index_keys')),
    sa.UniqueConstraint('carrier_id', 'version', name=op.f('uq_crypto_index_keys_carrier_id_version'))
    )
    op.create_table('crypto_keks',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('wrapped_key', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crypto_keks')),
    sa.UniqueConstraint('carrier_id', 'version', name=op.f('uq_crypto_keks_carrier_id_version'))
    )
    with op.batch_alter_table('crypto_keks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_crypto_keks_carrier_id'), ['carrier_id'], unique=False)

    op.create_table('crypto_signing_keys',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('purpose', sa.String(length=32), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('public_key', sa.LargeBinary(length=32), nullable=False),
    sa.Column('wrapped_private_key', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crypto_signing_keys')),
    sa.UniqueConstraint('carrier_id', 'purpose', 'version', name=op.f('uq_crypto_signing_keys_carrier_id_purpose_version'))
    )
    op.create_table('login_throttle',
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failure_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('locked_until', parcelguard.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('username', name=op.f('pk_login_throttle'))
    )
    op.create_table('audit_entries',
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('idx', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('logged_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('purpose', sa.String(length=64), nullable=False),
    sa.Column('decision', sa.String(length=16), nullable=False),
    sa.Column('entry', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_audit_entries_carrier_id_carriers')),
    sa.PrimaryKeyConstraint('carrier_id', 'idx', name=op.f('pk_audit_entries'))
    )
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_entries_carrier_id_actor_id'), ['carrier_id', 'actor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_entries_carrier_id_logged_at'), ['carrier_id', 'logged_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_entries_carrier_id_subject'), ['carrier_id', 'subject'], unique=False)

    op.create_table('audit_logs',
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_audit_logs_carrier_id_carriers')),
    sa.PrimaryKeyConstraint('carrier_id', name=op.f('pk_audit_logs'))
    )
    op.create_table('audit_nodes',
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('level', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('idx', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('hash', sa.LargeBinary(length=32), nullable=False),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_audit_nodes_carrier_id_carriers')),
    sa.PrimaryKeyConstraint('carrier_id', 'level', 'idx', name=op.f('pk_audit_nodes'))
    )
    op.create_table('audit_tree_heads',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('tree_size', sa.BigInteger(), nullable=False),
    sa.Column('root_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('timestamp_ms', sa.BigInteger(), nullable=False),
    sa.Column('signature', sa.LargeBinary(length=64), nullable=False),
    sa.Column('key_id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_audit_tree_heads_carrier_id_carriers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_tree_heads'))
    )
    with op.batch_alter_table('audit_tree_heads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_tree_heads_carrier_id_tree_size'), ['carrier_id', 'tree_size'], unique=False)

    op.create_table('crypto_data_keys',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('kek_id', sa.BigInteger(), nullable=False),
    sa.Column('data_class', sa.String(length=64), nullable=False),
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('wrapped_key', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('destroyed_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['kek_id'], ['crypto_keks.id'], name=op.f('fk_crypto_data_keys_kek_id_crypto_keks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crypto_data_keys'))
    )
    with op.batch_alter_table('crypto_data_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_crypto_data_keys_carrier_id_data_class_period'), ['carrier_id', 'data_class', 'period'], unique=False)
        batch_op.create_index(batch_op.f('ix_crypto_data_keys_kek_id'), ['kek_id'], unique=False)

    op.create_table('stations',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('region_code', sa.String(length=6), nullable=False),
    sa.Column('created_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_stations_carrier_id_carriers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stations')),
    sa.UniqueConstraint('carrier_id', 'code', name=op.f('uq_stations_carrier_id_code'))
    )
    with op.batch_alter_table('stations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stations_carrier_id'), ['carrier_id'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('carrier_id', sa.Uuid(), nullable=True),
    sa.Column('station_id', sa.Uuid(), nullable=True),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_users_carrier_id_carriers')),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_users_station_id_stations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_carrier_id'), ['carrier_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_users_station_id'), ['station_id'], unique=False)

    op.create_table('terminals',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('station_id', sa.Uuid(), nullable=False),
    sa.Column('serial', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('registered_by', sa.Uuid(), nullable=False),
    sa.Column('registered_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_terminals_carrier_id_carriers')),
    sa.ForeignKeyConstraint(['registered_by'], ['users.id'], name=op.f('fk_terminals_registered_by_users')),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_terminals_station_id_stations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_terminals')),
    sa.UniqueConstraint('carrier_id', 'serial', name=op.f('uq_terminals_carrier_id_serial'))
    )
    with op.batch_alter_table('terminals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_terminals_carrier_id'), ['carrier_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_terminals_station_id'), ['station_id'], unique=False)

    op.create_table('auth_tokens',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('carrier_id', sa.Uuid(), nullable=True),
    sa.Column('token_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('terminal_id', sa.Uuid(), nullable=True),
    sa.Column('issued_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_auth_tokens_carrier_id_carriers')),
    sa.ForeignKeyConstraint(['terminal_id'], ['terminals.id'], name=op.f('fk_auth_tokens_terminal_id_terminals')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_auth_tokens_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_auth_tokens_token_hash'))
    )
    with op.batch_alter_table('auth_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auth_tokens_carrier_id'), ['carrier_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_auth_tokens_user_id'), ['user_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('auth_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auth_tokens_user_id'))
        batch_op.drop_index(batch_op.f('ix_auth_tokens_carrier_id'))

    op.drop_table('auth_tokens')
    with op.batch_alter_table('terminals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_terminals_station_id'))
        batch_op.drop_index(batch_op.f('ix_terminals_carrier_id'))

    op.drop_table('terminals')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_station_id'))
        batch_op.drop_index(batch_op.f('ix_users_carrier_id'))

    op.drop_table('users')
    with op.batch_alter_table('stations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stations_carrier_id'))

    op.drop_table('stations')
    with op.batch_alter_table('crypto_data_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_crypto_data_keys_kek_id'))
        batch_op.drop_index(batch_op.f('ix_crypto_data_keys_carrier_id_data_class_period'))

    op.drop_table('crypto_data_keys')
    with op.batch_alter_table('audit_tree_heads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_tree_heads_carrier_id_tree_size'))

    op.drop_table('audit_tree_heads')
    op.drop_table('audit_nodes')
    op.drop_table('audit_logs')
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_entries_carrier_id_subject'))
        batch_op.drop_index(batch_op.f('ix_audit_entries_carrier_id_logged_at'))
        batch_op.drop_index(batch_op.f('ix_audit_entries_carrier_id_actor_id'))

    op.drop_table('audit_entries')
    op.drop_table('login_throttle')
    op.drop_table('crypto_signing_keys')
    with op.batch_alter_table('crypto_keks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_crypto_keks_carrier_id'))

    op.drop_table('crypto_keks')
    op.drop_table('crypto_index_keys')
    op.drop_table('carriers')
