"""The enterprise console's own Alembic migrations (its database holds only `enterprise.platform.models`)."""

from pathlib import Path

MIGRATIONS_DIR = Path(__file__).resolve().parent
