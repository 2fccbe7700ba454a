"""The regulator's officials: their accounts, bearer tokens (digests only) and sign-in throttle; the
lookup log (a hash chain of every lookup, with its signed head); an index on received records'
taken_at for the figures.

Revision ID: platform_0002
Revises: platform_0001
Create Date: 2026-11-26 03:10:00.000000
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parcelguard.core.db

revision: str = 'platform_0002'
down_revision: str | None = 'platform_0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('officials',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_officials')),
    sa.UniqueConstraint('username', name=op.f('uq_officials_username'))
    )
    op.create_table('official_tokens',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('official_id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('issued_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['official_id'], ['officials.id'], name=op.f('fk_official_tokens_official_id_officials')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_official_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_official_tokens_token_hash'))
    )
    with op.batch_alter_table('official_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_official_tokens_official_id'), ['official_id'], unique=False)

    op.create_table('official_login_throttle',
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failure_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('locked_until', parcelguard.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('username', name=op.f('pk_official_login_throttle'))
    )
    op.create_table('lookup_log',
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('official_id', sa.Uuid(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('doc_type', sa.String(length=32), nullable=True),
    sa.Column('query_digest', sa.LargeBinary(length=32), nullable=False),
    sa.Column('found', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('entry_hash', sa.LargeBinary(length=32), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_lookup_log'))
    )
    op.create_table('lookup_log_head',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('head_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('key_id', sa.String(length=16), nullable=True),
    sa.Column('signature', sa.LargeBinary(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lookup_log_head'))
    )
    with op.batch_alter_table('received_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_received_records_taken_at'), ['taken_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('received_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_received_records_taken_at'))

    op.drop_table('lookup_log_head')
    op.drop_table('lookup_log')
    op.drop_table('official_login_throttle')
    with op.batch_alter_table('official_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_official_tokens_official_id'))

    op.drop_table('official_tokens')
    op.drop_table('officials')
