"""The auth epoch (issue 17, many workers): one row counting the changes of who may act, so a worker process
trusts a cached authentication only while no token was revoked and no account retired since.

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table("auth_epoch",
                            sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
                            sa.Column("epoch", sa.BigInteger(), nullable=False),
                            sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_epoch")))
    op.bulk_insert(table, [{"id": 1, "epoch": 0}])


def downgrade() -> None:
    op.drop_table("auth_epoch")
