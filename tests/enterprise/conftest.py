"""The enterprise console in tests: its own database per engine (never a carrier's), served over real HTTP on
loopback; each test makes its own company, so tests keep apart on one database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from parcelguard.core import db
from parcelguard.core.config import encode_root_key
from parcelguard.enterprise.platform import employees
from parcelguard.enterprise.platform.migrations import MIGRATIONS_DIR
from parcelguard.enterprise.platform.settings import EnterpriseSettings
from parcelguard.web.enterprise_app import create_enterprise_app
from tests.enterprise.carriers import carrier_platforms_fixture
from tests.servers import app_in_thread
from tests.support import ENGINES, empty_database, require_engine

TEST_ENTERPRISE_ROOT_KEY = bytes(range(160, 192))
PASSWORD = "correct horse battery"


def console_settings(url: str, **extra: Any) -> EnterpriseSettings:
    return EnterpriseSettings(database_url=url, root_key=SecretStr(encode_root_key(TEST_ENTERPRISE_ROOT_KEY)),
                              **extra)


@pytest.fixture(scope="session", params=ENGINES)
def console_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The console's own database for the run, built by its migrations."""
    require_engine(request.param)
    with empty_database(request.param, tmp_path_factory.mktemp("enterprise")) as url:
        db.upgrade(url, script_location=MIGRATIONS_DIR)
        yield url


@pytest.fixture(scope="session")
def console(console_url: str) -> Iterator[str]:
    """The console app under uvicorn on a loopback port: its base URL."""
    with app_in_thread(create_enterprise_app(console_settings(console_url))) as url:
        yield url


@pytest.fixture
def ehttp(console: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=console, timeout=30) as client:
        yield client


@dataclass(frozen=True)
class Company:
    id: uuid.UUID
    code: str
    admin: str
    shipper: str

    def login(self, http: httpx.Client, username: str) -> dict[str, str]:
        r = http.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}


def make_company(url: str) -> Company:
    suffix = uuid.uuid4().hex[:8]
    engine = db.make_engine(url)
    try:
        with db.make_sessionmaker(engine)() as s, s.begin():
            company = employees.add_company(db_session=s, code=f"co-{suffix}", name=f"演示企业 {suffix}")
            for username, role in ((f"admin-{suffix}", "admin"), (f"shipper-{suffix}", "shipper")):
                employees.add_employee(db_session=s, company_id=company.id, username=username, display_name=username,
                                       password=PASSWORD, role=role)
            return Company(company.id, company.code, f"admin-{suffix}", f"shipper-{suffix}")
    finally:
        engine.dispose()


@pytest.fixture
def company(console_url: str) -> Company:
    return make_company(console_url)


# Two carrier platforms, each its own process and database, per engine for the run (the adapter's and the orders'
# tests share them).
carriers = carrier_platforms_fixture(count=2)
