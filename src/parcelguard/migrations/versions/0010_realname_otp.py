"""A sender registration is usable once its phone is proved by a one-time SMS code (identity/otp.py):
`realname_registrations.verified_at`, a refresh secret only from then on (`refresh_hash` may be empty),
`realname_registrations.phone_mac` (another code goes only to the phone registered), and
`realname_codes`, the codes' HMACs. Registrations made before codes existed already hold tokens and
refresh secrets: they count as verified when they were made, so no sender's QR stops working.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 18:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parcelguard.core.db

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('realname_registrations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone_mac', sa.LargeBinary(length=32), nullable=True))
        batch_op.add_column(sa.Column('verified_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.alter_column('refresh_hash', existing_type=sa.LargeBinary(length=32), nullable=True)
    op.execute("UPDATE realname_registrations SET verified_at = created_at")
    op.create_table('realname_codes',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('registration_id', sa.Uuid(), nullable=False),
    sa.Column('code_mac', sa.LargeBinary(length=32), nullable=False),
    sa.Column('sent_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', parcelguard.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['registration_id'], ['realname_registrations.id'],
                            name=op.f('fk_realname_codes_registration_id_realname_registrations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_realname_codes'))
    )
    with op.batch_alter_table('realname_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_realname_codes_registration_id_sent_at'),
                              ['registration_id', 'sent_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('realname_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_realname_codes_registration_id_sent_at'))
    op.drop_table('realname_codes')
    # A registration whose phone was never proved has no refresh secret and no token: it goes.
    op.execute("DELETE FROM realname_registrations WHERE refresh_hash IS NULL")
    with op.batch_alter_table('realname_registrations', schema=None) as batch_op:
        batch_op.alter_column('refresh_hash', existing_type=sa.LargeBinary(length=32), nullable=False)
        batch_op.drop_column('verified_at')
        batch_op.drop_column('phone_mac')
