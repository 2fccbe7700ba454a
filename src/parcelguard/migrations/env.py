"""Alembic environment: the metadata of every domain, on the URL the caller configured."""

import parcelguard.tables  # noqa: F401  (registers every table)
from parcelguard.core.db import Base, run_migrations
from parcelguard.partitions import include_name

run_migrations(Base.metadata, include_name=include_name)  # the monthly partitions are made at run time
