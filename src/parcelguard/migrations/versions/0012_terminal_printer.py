"""A terminal may name the networked thermal printer it prints labels on.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 16:40:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('terminals') as batch:
        batch.add_column(sa.Column('printer', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('terminals') as batch:
        batch.drop_column('printer')
