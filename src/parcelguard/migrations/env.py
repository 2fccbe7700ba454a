"""Alembic environment: the metadata of every domain, on the URL the caller configured."""

import parcelguard.tables  # noqa: F401  (registers every table)
from parcelguard.core.db import Base, run_migrations

run_migrations(Base.metadata)
