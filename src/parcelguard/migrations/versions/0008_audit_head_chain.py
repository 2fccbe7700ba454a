"""The audit log's keyed record of its signed heads (audit.head_chain): `audit_tree_heads.chain`,
`audit_logs.heads` and `audit_logs.heads_mac`. Logs that already have heads are chained here, in row
order, with the carrier's chain key: that needs the root key (from the settings, as the server reads it).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 22:10:00
"""
from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.orm import Session

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('audit_logs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('heads', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('heads_mac', sa.LargeBinary(length=32), nullable=True))
    with op.batch_alter_table('audit_tree_heads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chain', sa.LargeBinary(length=32), nullable=True))
    bind = op.get_bind()
    carriers = bind.execute(sa.text("SELECT DISTINCT carrier_id FROM audit_tree_heads")).scalars().all()
    if not carriers:
        return
    from parcelguard.audit import head_chain
    from parcelguard.core.config import Settings
    from parcelguard.crypto.keyring import Keyring

    keyring = context.config.attributes.get("keyring") or Keyring(Settings().load_root_key())
    with Session(bind=bind) as session:
        for carrier_id in carriers:  # SQLite hands back the stored hex, PostgreSQL a UUID
            head_chain.rebuild(db_session=session, keyring=keyring,
                               carrier_id=carrier_id if isinstance(carrier_id, uuid.UUID) else uuid.UUID(carrier_id))
        session.flush()


def downgrade() -> None:
    with op.batch_alter_table('audit_tree_heads', schema=None) as batch_op:
        batch_op.drop_column('chain')
    with op.batch_alter_table('audit_logs', schema=None) as batch_op:
        batch_op.drop_column('heads_mac')
        batch_op.drop_column('heads')
