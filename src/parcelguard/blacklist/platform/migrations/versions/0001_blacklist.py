"""The industry blacklist: registered carriers and their signing keys, entries (a keyed hash of a keyed hash
of the person, never a document number), appeals, and the query log.

Revision ids carry the `blacklist_` prefix, so the blacklist's database and another platform's can never be
taken for one another (`/readyz` compares the revision with this folder's head).

Revision ID: blacklist_0001
Revises:
Create Date: 2026-12-08 12:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parcelguard.core.db

revision: str = 'blacklist_0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = parcelguard.core.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table('carriers',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('registered_at', _TIME, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_carriers')),
    sa.UniqueConstraint('code', name=op.f('uq_carriers_code'))
    )
    op.create_table('carrier_keys',
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('key_id', sa.String(length=16), nullable=False),
    sa.Column('public_key', sa.LargeBinary(length=32), nullable=False),
    sa.Column('added_at', _TIME, nullable=False),
    sa.Column('revoked_at', _TIME, nullable=True),
    sa.Column('revoke_reason', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_carrier_keys_carrier_id_carriers')),
    sa.PrimaryKeyConstraint('carrier_id', 'key_id', name=op.f('pk_carrier_keys'))
    )
    op.create_table('entries',
    sa.Column('entry_id', sa.Uuid(), nullable=False),
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('key_id', sa.String(length=16), nullable=False),
    sa.Column('person_index', sa.LargeBinary(length=32), nullable=False),
    sa.Column('reason_code', sa.String(length=32), nullable=False),
    sa.Column('evidence_ref', sa.String(length=64), nullable=False),
    sa.Column('reported_at', _TIME, nullable=False),
    sa.Column('received_at', _TIME, nullable=False),
    sa.Column('signature', sa.LargeBinary(length=64), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('removed_at', _TIME, nullable=True),
    sa.Column('removed_by_appeal', sa.Uuid(), nullable=True),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_entries_carrier_id_carriers')),
    sa.PrimaryKeyConstraint('entry_id', name=op.f('pk_entries'))
    )
    with op.batch_alter_table('entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_entries_carrier_id'), ['carrier_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_entries_person_index_status'), ['person_index', 'status'], unique=False)
    op.create_table('appeals',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('entry_id', sa.Uuid(), nullable=False),
    sa.Column('opened_at', _TIME, nullable=False),
    sa.Column('via_carrier_id', sa.Uuid(), nullable=True),
    sa.Column('grounds', sa.String(length=500), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('decided_at', _TIME, nullable=True),
    sa.Column('decision_reason', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['entry_id'], ['entries.entry_id'], name=op.f('fk_appeals_entry_id_entries')),
    sa.ForeignKeyConstraint(['via_carrier_id'], ['carriers.id'], name=op.f('fk_appeals_via_carrier_id_carriers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appeals'))
    )
    with op.batch_alter_table('appeals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_appeals_entry_id'), ['entry_id'], unique=False)
    op.create_table('query_log',
    sa.Column('carrier_id', sa.Uuid(), nullable=False),
    sa.Column('query_id', sa.Uuid(), nullable=False),
    sa.Column('key_id', sa.String(length=16), nullable=False),
    sa.Column('sent_at', _TIME, nullable=False),
    sa.Column('at', _TIME, nullable=False),
    sa.Column('person_digest', sa.LargeBinary(length=32), nullable=False),
    sa.Column('listed', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['carrier_id'], ['carriers.id'], name=op.f('fk_query_log_carrier_id_carriers')),
    sa.PrimaryKeyConstraint('carrier_id', 'query_id', name=op.f('pk_query_log'))
    )
    with op.batch_alter_table('query_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_query_log_carrier_id_at'), ['carrier_id', 'at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('query_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_query_log_carrier_id_at'))
    op.drop_table('query_log')
    with op.batch_alter_table('appeals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_appeals_entry_id'))
    op.drop_table('appeals')
    with op.batch_alter_table('entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_entries_person_index_status'))
        batch_op.drop_index(batch_op.f('ix_entries_carrier_id'))
    op.drop_table('entries')
    op.drop_table('carrier_keys')
    op.drop_table('carriers')
