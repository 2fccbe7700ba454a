"""Alembic environment of the regulator's platform: its own metadata only, on the URL the caller set."""

from parcelguard.core.db import run_migrations
from parcelguard.regulator.platform.models import PlatformBase
from parcelguard.regulator.platform.partitions import include_name

run_migrations(PlatformBase.metadata, include_name=include_name)  # the monthly partitions are made at run time
