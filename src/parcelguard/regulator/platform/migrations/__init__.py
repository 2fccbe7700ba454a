"""The platform's own Alembic migrations (its database holds only `platform.models`)."""

from pathlib import Path

MIGRATIONS_DIR = Path(__file__).resolve().parent
