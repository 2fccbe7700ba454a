"""The schema comes from the migrations, and the models agree with them on both engines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

import parcelguard.tables  # noqa: F401  (registers every table)
from parcelguard.core import db
from parcelguard.core.db import Base, UTCDateTime
from parcelguard.partitions import include_name


def test_the_models_and_the_migrations_agree(fresh_url: str) -> None:
    db.upgrade(fresh_url)
    engine = db.make_engine(fresh_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True,
                                                   # as the env: the monthly partitions are made at run time
                                                   "include_name": include_name})
            diff = compare_metadata(ctx, Base.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
        assert db.current_revision(engine) == db.head_revision()
    finally:
        engine.dispose()


def test_the_migrations_go_down_to_nothing_and_up_again(fresh_url: str) -> None:
    db.upgrade(fresh_url)
    from alembic import command

    command.downgrade(db.alembic_config(fresh_url), "base")
    engine = db.make_engine(fresh_url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        db.upgrade(fresh_url)
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_timestamps_come_back_in_utc_with_their_zone() -> None:
    col = UTCDateTime()
    shanghai = timezone(timedelta(hours=8))
    stored = col.process_bind_param(datetime(2026, 11, 25, 8, 0, tzinfo=shanghai), None)
    assert stored == datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
    assert col.process_result_value(datetime(2026, 11, 25, 0, 0), None).tzinfo is UTC
    with pytest.raises(ValueError):
        col.process_bind_param(datetime(2026, 11, 25), None)
