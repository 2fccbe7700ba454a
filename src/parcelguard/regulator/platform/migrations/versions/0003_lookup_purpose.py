"""A lookup states its purpose, written to the lookup log with the query.

Revision ID: platform_0003
Revises: platform_0002
Create Date: 2026-12-06 17:40:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'platform_0003'
down_revision: str | None = 'platform_0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('lookup_log') as batch:
        batch.add_column(sa.Column('purpose', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('lookup_log') as batch:
        batch.drop_column('purpose')
