"""A carrier key's revocation records who revoked it (an official; none when the operator did at the command
line) and why; received batches get an index on (carrier, key, received_at), so each key's newest batch is
one index probe for the officials' carriers page.

Revision ID: platform_0004
Revises: platform_0003
Create Date: 2026-12-08 10:20:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'platform_0004'
down_revision: str | None = 'platform_0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('carrier_keys') as batch_op:
        batch_op.add_column(sa.Column('revoked_by', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('revoke_reason', sa.String(length=200), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_carrier_keys_revoked_by_officials'), 'officials',
                                    ['revoked_by'], ['id'])
    with op.batch_alter_table('received_batches') as batch_op:
        batch_op.create_index(batch_op.f('ix_received_batches_carrier_id_key_id_received_at'),
                              ['carrier_id', 'key_id', 'received_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('received_batches') as batch_op:
        batch_op.drop_index(batch_op.f('ix_received_batches_carrier_id_key_id_received_at'))
    with op.batch_alter_table('carrier_keys') as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_carrier_keys_revoked_by_officials'), type_='foreignkey')
        batch_op.drop_column('revoke_reason')
        batch_op.drop_column('revoked_by')
