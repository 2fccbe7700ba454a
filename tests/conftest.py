"""Fixtures shared by the whole suite. Every database test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import settings
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from parcelguard.core import db
from tests.support import ENGINES, empty_database, migrated_database, require_engine

TEST_ROOT_KEY = bytes(range(32))

# Tests never assert wall-clock times: on a loaded machine Hypothesis's per-example deadline (200 ms) fails a pure
# property test (tests/regulator/test_feed.py's backoff flaked so). Speed is measured in bench/, not here.
settings.register_profile("parcelguard", deadline=None)
settings.load_profile("parcelguard")


@pytest.fixture(scope="session", params=ENGINES)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One migrated database per engine for the whole run; tests keep apart by making their own carriers."""
    require_engine(request.param)
    with migrated_database(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    eng = db.make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def db_session(engine: Engine) -> Iterator[Session]:
    """A session on the shared test database; what a test commits stays (under its own carrier)."""
    session = db.make_sessionmaker(engine)()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:8]


def pytest_configure(config: pytest.Config) -> None:
    # Tests never read the developer's ./var or environment configuration by accident.
    for key in [k for k in os.environ if k.startswith("PARCELGUARD_") and not k.startswith("PARCELGUARD_TEST_")]:
        del os.environ[key]


# -- keys, servers and tenants --------------------------------------------------------------------

from parcelguard.core.config import Settings
from parcelguard.crypto.keyring import Keyring
from tests.servers import LiveServer, platform_process
from tests.tenants import Tenant


@pytest.fixture(scope="session")
def keyring() -> Keyring:
    return Keyring(TEST_ROOT_KEY)


@pytest.fixture(scope="session")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The platform as `parcelguard run` starts it, in its own process, on the test database."""
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    # The whole suite reaches this server from 127.0.0.1, so its public routes get far higher limits than
    # the defaults; tests/identity/test_rate_limits.py checks the limits on servers of its own.
    limits = {f"PARCELGUARD_RATE_LIMIT_{name.upper()}": "100000/minute" for name in Settings().rate_limits}
    # Its minutely head signing would reach every carrier in the shared database, adding heads mid-way to
    # logs that tests lay out exactly (tests/audit/test_tamper.py); tests/audit/test_log.py checks the
    # periodic signing on a server of its own.
    limits["PARCELGUARD_AUDIT_HEAD_SECONDS"] = str(7 * 24 * 3600)
    with platform_process(database_url=database_url, root_key=TEST_ROOT_KEY, log_path=log_path, **limits) as live:
        yield live


@pytest.fixture
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


@pytest.fixture
def tenant(engine: Engine, keyring: Keyring) -> Tenant:
    """A fresh carrier with two stations; accounts are made on demand (`tenant.login(http, role)`)."""
    return Tenant.create(engine=engine, keyring=keyring)


@pytest.fixture
def other_tenant(engine: Engine, keyring: Keyring) -> Tenant:
    return Tenant.create(engine=engine, keyring=keyring)


@pytest.fixture(params=ENGINES)
def fresh_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A new, empty database of each engine (no schema), dropped after the test."""
    require_engine(request.param)
    with empty_database(request.param, tmp_path_factory.mktemp("fresh")) as url:
        yield url
