"""The blacklist's own Alembic migrations (its database holds only `blacklist.platform.models`)."""

from pathlib import Path

MIGRATIONS_DIR = Path(__file__).resolve().parent
