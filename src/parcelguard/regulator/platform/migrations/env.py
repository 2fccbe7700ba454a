"""Alembic environment of the regulator's platform: its own metadata only, on the URL the caller set."""

from parcelguard.core.db import run_migrations
from parcelguard.regulator.platform.models import PlatformBase

run_migrations(PlatformBase.metadata)
