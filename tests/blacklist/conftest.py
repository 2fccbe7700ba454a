"""The industry blacklist in tests: its own database on the engine of the carrier's test database (never the
carrier's), served over real HTTP on loopback; the carrier platform as `parcelguard run` starts it with the
blacklist on; carriers registered on the blacklist with their reporting keys."""

from __future__ import annotations

import base64
import itertools
import random
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine

from parcelguard.accounts import service as accounts
from parcelguard.blacklist import protocol
from parcelguard.blacklist import service as carrier_side
from parcelguard.blacklist.api import router as blacklist_router
from parcelguard.blacklist.platform import service as platform
from parcelguard.blacklist.platform.keys import BlacklistKeys
from parcelguard.blacklist.platform.migrations import MIGRATIONS_DIR
from parcelguard.core import db
from parcelguard.core.auth import Role
from parcelguard.core.clock import now
from parcelguard.core.config import BlacklistSettings, Settings, encode_root_key
from parcelguard.crypto import signing
from parcelguard.crypto.keyring import Keyring
from parcelguard.identity.documents import id_check_character
from parcelguard.web.app import create_app
from parcelguard.web.blacklist_app import create_blacklist_app
from tests.conftest import TEST_ROOT_KEY
from tests.servers import TEST_REGULATOR_PUBLIC, LiveServer, app_in_thread, platform_process
from tests.support import empty_database
from tests.tenants import Tenant, writing

TEST_BLACKLIST_ROOT = bytes(range(128, 160))
TEST_INDUSTRY_KEY = bytes(range(160, 192))
Serve = Callable[..., str]


def blacklist_settings(url: str, **extra: object) -> BlacklistSettings:
    return BlacklistSettings(database_url=url, root_key=SecretStr(encode_root_key(TEST_BLACKLIST_ROOT)),
                             **extra)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def blacklist_url(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The blacklist's own database, on the engine of this run's carrier database, built by its migrations."""
    kind = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    with empty_database(kind, tmp_path_factory.mktemp("blacklist")) as url:
        db.upgrade(url, script_location=MIGRATIONS_DIR)
        yield url


@pytest.fixture(scope="session")
def blacklist_engine(blacklist_url: str) -> Iterator[Engine]:
    engine = db.make_engine(blacklist_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def blacklist_keys() -> BlacklistKeys:
    return BlacklistKeys(root_key=TEST_BLACKLIST_ROOT)


@pytest.fixture(scope="session")
def blacklist(blacklist_url: str) -> Iterator[str]:
    """The blacklist app (`create_blacklist_app`) under uvicorn on a loopback port: its base URL."""
    with app_in_thread(create_blacklist_app(blacklist_settings(blacklist_url))) as url:
        yield url


BLACKLIST_ENV = {"PARCELGUARD_BLACKLIST_INDUSTRY_KEY": encode_root_key(TEST_INDUSTRY_KEY),
                 "PARCELGUARD_BLACKLIST_TIMEOUT_SECONDS": "10"}


@pytest.fixture(scope="session")
def hiring(database_url: str, blacklist: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The carrier platform as `parcelguard run` starts it, with the blacklist on by its environment
    (PARCELGUARD_BLACKLIST_URL and the industry key), on this run's carrier database."""
    limits = {f"PARCELGUARD_RATE_LIMIT_{name.upper()}": "100000/minute" for name in Settings().rate_limits}
    log_path = tmp_path_factory.mktemp("hiring") / "server.log"
    with platform_process(database_url=database_url, root_key=TEST_ROOT_KEY, log_path=log_path,
                          PARCELGUARD_BLACKLIST_URL=blacklist, **BLACKLIST_ENV, **limits) as live:
        yield live


@pytest.fixture
def serve(database_url: str) -> Iterator[Serve]:
    """`serve(blacklist_url=...)`: the carrier app in this process with the blacklist at that URL, and the
    carrier's report route (`blacklist.api`) in its `/api/v1` whether or not `web/app.py` includes it yet."""
    with ExitStack() as stack:
        def start(**settings: object) -> str:
            app = create_app(Settings(
                database_url=database_url, root_key=SecretStr(encode_root_key(TEST_ROOT_KEY)),
                regulator_public_key=encode_root_key(TEST_REGULATOR_PUBLIC),
                blacklist_industry_key=SecretStr(encode_root_key(TEST_INDUSTRY_KEY)), **settings))  # type: ignore[arg-type]
            if not any(getattr(route, "path", "") == "/api/v1/blacklist/reports" for route in app.routes):
                app.include_router(blacklist_router, prefix="/api/v1")
            return stack.enter_context(app_in_thread(app))
        yield start


def register_on_blacklist(engine: Engine, keyring: Keyring, tenant: Tenant, blacklist_engine: Engine) -> str:
    """Register the tenant and its reporting key on the blacklist, as `parcelguard blacklist registration` then
    `parcelguard blacklist carriers add` do. Answers the key id."""
    with writing(engine) as s:
        entry = carrier_side.registration(db_session=s, keyring=keyring, carrier_slug=tenant.slug)
    with db.make_sessionmaker(blacklist_engine)() as s, s.begin():
        done = platform.register_carrier(db_session=s, code=entry["code"], carrier_uuid=uuid.UUID(entry["carrier_id"]),
                                         name=entry["name"], public_key=base64.b64decode(entry["public_key"]))
    return done.key_id


def staff(engine: Engine, tenant: Tenant, display_name: str, *, role: Role = Role.COURIER) -> uuid.UUID:
    """A staff account of the tenant's first station, under a display name of the test's choosing."""
    with writing(engine) as s:
        user = accounts.create_user(db_session=s, username=f"{tenant.slug}-{uuid.uuid4().hex[:8]}",
                                    password="correct horse battery", role=role, display_name=display_name,
                                    carrier_id=tenant.carrier_id, station_id=tenant.stations[0])
        return user.id


_SEQUENCE = itertools.count(random.randrange(1000))


def id_number(born: date | None = None) -> str:
    """A valid 18-digit resident ID (GB 11643), new on every call in a run; born in the 1900s, so it has a
    15-digit first-generation form too."""
    born = born or date(1960, 1, 1) + timedelta(days=random.randrange(40 * 365))
    body = f"110105{born:%Y%m%d}{next(_SEQUENCE) % 1000:03d}"
    return body + id_check_character(body)


def forms(number: str) -> list[str]:
    """The ways a test's document number could show: 18 digits, 15 digits, and with spaces."""
    short = number[:6] + number[8:17]
    return [number, number.lower(), short, f"{number[:6]} {number[6:14]} {number[14:]}",
            f"{short[:6]} {short[6:12]} {short[12:]}", " ".join(number)]


@dataclass
class ReportingCarrier:
    """A carrier registered straight on the blacklist, holding its key's private half (no carrier platform)."""

    code: str
    carrier_id: uuid.UUID
    seed: bytes
    key_id: str

    def report(self, person: bytes, *, entry_id: uuid.UUID | None = None, reason: str = "sold_user_data",
               evidence: str = "CASE-2026-0042", seed: bytes | None = None) -> dict[str, object]:
        return protocol.Report(carrier=self.code, key_id=self.key_id, entry_id=entry_id or uuid.uuid4(),
                               person=person, reason_code=reason, evidence_ref=evidence,
                               reported_at=now()).signed(lambda m: signing.sign(seed or self.seed, m))

    def query(self, person: bytes, *, query_id: uuid.UUID | None = None, seed: bytes | None = None,
              sent_at: object = None) -> dict[str, object]:
        return protocol.Query(carrier=self.code, key_id=self.key_id, query_id=query_id or uuid.uuid4(),
                              person=person, sent_at=sent_at or now()).signed(  # type: ignore[arg-type]
            lambda m: signing.sign(seed or self.seed, m))


def reporting_carrier(blacklist_engine: Engine) -> ReportingCarrier:
    seed, public = signing.generate()
    code, carrier_id = f"c-{uuid.uuid4().hex[:10]}", uuid.uuid4()
    with db.make_sessionmaker(blacklist_engine)() as s, s.begin():
        done = platform.register_carrier(db_session=s, code=code, carrier_uuid=carrier_id, name="测试快递",
                                         public_key=public)
    return ReportingCarrier(code=code, carrier_id=carrier_id, seed=seed, key_id=done.key_id)


@pytest.fixture
def carrier(blacklist_engine: Engine) -> ReportingCarrier:
    return reporting_carrier(blacklist_engine)


@pytest.fixture
def other_carrier(blacklist_engine: Engine) -> ReportingCarrier:
    return reporting_carrier(blacklist_engine)


def person_of(number: str) -> bytes:
    """The industry's keyed hash of a document, as every carrier computes it."""
    from parcelguard.identity import documents

    return protocol.person_hash(TEST_INDUSTRY_KEY, documents.parse(number).index_key)
