"""Alembic environment of the industry blacklist: its own metadata only, on the URL the caller set."""

from parcelguard.blacklist.platform.models import BlacklistBase
from parcelguard.core.db import run_migrations

run_migrations(BlacklistBase.metadata)
