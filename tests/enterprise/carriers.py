"""Carrier platforms for the console's adapter tests: each a parcelguard platform in its own process on its own
database, with one carrier, its stations, and an enterprise account under an agreement in force (协议客户), made
over the carrier's HTTP API as its station manager would (tests/shipments/test_contract_intake.py).

    carriers = carrier_platforms_fixture(count=2)    # in a test module: a session fixture per engine

    def test_x(carriers: list[CarrierPlatform]) -> None: ...
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from parcelguard.core import db
from parcelguard.core.auth import Role
from parcelguard.core.config import Settings
from parcelguard.crypto.keyring import Keyring
from parcelguard.shipments.models import Shipment
from tests.servers import LiveServer, platform_process
from tests.shipments.test_contract_intake import make_agreement
from tests.support import ENGINES, count_rows, empty_database, require_engine
from tests.tenants import Tenant

# The carriers' own root key (each platform has its own database; one key for all of them is enough here).
CARRIER_ROOT_KEY = bytes(range(64, 96))
# Alembic keeps the running migration in module globals: one upgrade at a time, whatever the thread.
_MIGRATING = threading.Lock()


@dataclass(frozen=True)
class CarrierPlatform:
    """A running carrier platform and the company's enterprise account there."""

    url: str
    database_url: str
    carrier_id: uuid.UUID
    waybill_prefix: str
    username: str
    password: str
    server: LiveServer

    def shipments(self) -> int:
        """The carrier's shipments in its database, counted through a connection of its own."""
        return count_rows(self.database_url, Shipment, Shipment.carrier_id == self.carrier_id)


@contextmanager
def carrier_platform(kind: str, directory: Path) -> Iterator[CarrierPlatform]:
    """A new database of `kind` in `directory` (a SQLite file, or a PostgreSQL database dropped on exit), migrated;
    one carrier with two stations; the platform serving it in a process of its own; and an agreement for the
    carrier's enterprise account, made by the station manager over HTTP (every parcel drawn for inspection: none)."""
    with empty_database(kind, directory) as url:
        with _MIGRATING:
            db.upgrade(url)
        engine = db.make_engine(url)
        try:
            tenant = Tenant.create(engine=engine, keyring=Keyring(CARRIER_ROOT_KEY))
            account = tenant.account(Role.ENTERPRISE)
            tenant.account(Role.STATION_MANAGER)  # written before the server starts: no lock to wait for
            # The tests reach the carrier from 127.0.0.1 only: its public limits (tracking, sign-in) would bite.
            limits = {f"PARCELGUARD_RATE_LIMIT_{name.upper()}": "100000/minute" for name in Settings().rate_limits}
            limits["PARCELGUARD_AUDIT_HEAD_SECONDS"] = str(7 * 24 * 3600)
            with platform_process(database_url=url, root_key=CARRIER_ROOT_KEY,
                                  log_path=directory / f"carrier-{tenant.prefix}.log", **limits) as live:
                with httpx.Client(base_url=live.url, timeout=30) as http:
                    make_agreement(http, tenant, inspection_permille=0)
                yield CarrierPlatform(url=live.url, database_url=url, carrier_id=tenant.carrier_id,
                                      waybill_prefix=tenant.prefix, username=account.username,
                                      password=account.password, server=live)
        finally:
            engine.dispose()


def carrier_platforms_fixture(count: int = 2, engines: tuple[str, ...] = ENGINES,
                              ) -> Callable[..., Iterator[list[CarrierPlatform]]]:
    """A session-scoped fixture, parametrised by the carriers' database engine: `count` carrier platforms, each
    its own process and database, started once per engine for the run and stopped at its end."""

    @pytest.fixture(scope="session", params=engines)
    def carriers(request: pytest.FixtureRequest,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[CarrierPlatform]]:
        require_engine(request.param)
        directories = [tmp_path_factory.mktemp("carrier") for _ in range(count)]
        with ExitStack() as stack:
            # Started side by side (each waits mostly on its process coming up); each stops when the stack closes,
            # a platform that did start included when another failed to.
            with ThreadPoolExecutor(max_workers=count) as pool:
                started = [pool.submit(stack.enter_context, carrier_platform(request.param, d)) for d in directories]
            yield [f.result() for f in started]

    return carriers
