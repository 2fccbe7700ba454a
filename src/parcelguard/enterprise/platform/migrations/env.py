"""Alembic environment of the enterprise console: its own metadata only, on the URL the caller set."""

from parcelguard.core.db import run_migrations
from parcelguard.enterprise.platform.models import EnterpriseBase

run_migrations(EnterpriseBase.metadata)
