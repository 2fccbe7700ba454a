"""The regulator's platform in tests: its own database per engine (never the carrier's), served over real
HTTP on loopback, and carriers registered on it with their own batch-signing keys."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine

from parcelguard.core import db
from parcelguard.core.clock import now
from parcelguard.core.config import RegulatorSettings, encode_root_key
from parcelguard.crypto import sealing, signing
from parcelguard.regulator import protocol
from parcelguard.regulator.platform import service
from parcelguard.regulator.platform.keys import PlatformKeys
from parcelguard.regulator.platform.migrations import MIGRATIONS_DIR
from parcelguard.web.regulator_app import create_regulator_app
from tests.servers import TEST_REGULATOR_PRIVATE, TEST_REGULATOR_PUBLIC, app_in_thread
from tests.support import ENGINES, empty_database, require_engine

TEST_PLATFORM_ROOT_KEY = bytes(range(64, 96))
TEST_RECEIPT_SEED = bytes(range(96, 128))
SEAL_CONTEXT = "parcelguard/realname/v1"

# A walk-in sender, and an organisation with its responsible person (docs/intake.md's examples).
PERSON = {"doc_type": "resident_id", "doc_number": "11010519491231002X", "name": "张三丰"}
ORGANISATION = {"doc_type": "uscc", "doc_number": "91110105MA01C3XR78", "name": "演示电子商务有限公司",
                "responsible": {"doc_type": "resident_id", "doc_number": "110101199003070011", "name": "诸葛负责"}}


def platform_settings(url: str, **extra: Any) -> RegulatorSettings:
    return RegulatorSettings(database_url=url, private_key=SecretStr(encode_root_key(TEST_REGULATOR_PRIVATE)),
                             signing_key=SecretStr(encode_root_key(TEST_RECEIPT_SEED)),
                             root_key=SecretStr(encode_root_key(TEST_PLATFORM_ROOT_KEY)), **extra)


@pytest.fixture(scope="session", params=ENGINES)
def platform_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The platform's own database for the run (a SQLite file, or a uniquely named PostgreSQL database,
    dropped after), built by the platform's migrations; tests keep apart by registering their own carriers."""
    require_engine(request.param)
    with empty_database(request.param, tmp_path_factory.mktemp("platform")) as url:
        db.upgrade(url, script_location=MIGRATIONS_DIR)
        yield url


@pytest.fixture(scope="session")
def platform_engine(platform_url: str) -> Iterator[Engine]:
    engine = db.make_engine(platform_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def platform_keys() -> PlatformKeys:
    return PlatformKeys(private_key=TEST_REGULATOR_PRIVATE, signing_key=TEST_RECEIPT_SEED,
                        root_key=TEST_PLATFORM_ROOT_KEY)


@pytest.fixture(scope="session")
def platform(platform_url: str) -> Iterator[str]:
    """The platform app (`create_regulator_app`) under uvicorn on a loopback port: its base URL."""
    with app_in_thread(create_regulator_app(platform_settings(platform_url))) as url:
        yield url


@dataclass
class Carrier:
    """A carrier registered on the platform, holding the private half of its batch-signing key."""

    code: str
    id: uuid.UUID
    seed: bytes
    key_id: str

    def record(self, payload: dict[str, Any] | bytes = PERSON, *, context: str | None = None,
               record_id: uuid.UUID | None = None, doc_type: str | None = None,
               recipient: bytes = TEST_REGULATOR_PUBLIC) -> protocol.SealedRecord:
        """A real sealed record, by default bound to this carrier's context for the record."""
        record_id = record_id or uuid.uuid4()
        context = context or f"{SEAL_CONTEXT}|{self.id}|{record_id}"
        plaintext = payload if isinstance(payload, bytes) else json.dumps(
            payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        if doc_type is None:
            doc_type = payload["doc_type"] if isinstance(payload, dict) else "resident_id"
        return protocol.SealedRecord(
            record_id=record_id, waybill_no="DE4718220365917", taken_at=now(), station="DE-BJ-CY01",
            region="110105", doc_type=doc_type, seal_context=context,
            sealed=bytes(sealing.seal(recipient, plaintext, context.encode())))

    def batch(self, records: Sequence[protocol.SealedRecord], *, batch_id: uuid.UUID | None = None,
              seed: bytes | None = None, key_id: str | None = None) -> dict[str, Any]:
        """The signed wire object of a batch of `records`."""
        batch = protocol.Batch(carrier=self.code, batch_id=batch_id or uuid.uuid4(), sent_at=now(),
                               key_id=key_id or self.key_id, records=tuple(records))
        return batch.signed(lambda message: signing.sign(seed or self.seed, message))


def register(engine: Engine, *, code: str | None = None, carrier_id: uuid.UUID | None = None) -> Carrier:
    seed, public = signing.generate()
    code = code or f"c-{uuid.uuid4().hex[:10]}"
    carrier_id = carrier_id or uuid.uuid4()
    with db.make_sessionmaker(engine)() as session, session.begin():
        done = service.register_carrier(db_session=session, code=code, carrier_uuid=carrier_id,
                                        name="测试快递", public_key=public)
    return Carrier(code=code, id=carrier_id, seed=seed, key_id=done.key_id)


@pytest.fixture
def carrier(platform_engine: Engine) -> Carrier:
    return register(platform_engine)


@pytest.fixture
def other_carrier(platform_engine: Engine) -> Carrier:
    return register(platform_engine)


@pytest.fixture
def env(tmp_path: Path, fresh_url: str) -> dict[str, str]:
    """A development machine for the `parcelguard regulator` commands: keys in its own var/, the platform
    on a fresh database of each engine."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PARCELGUARD_")}
    return {**clean, "PARCELGUARD_VAR_DIR": str(tmp_path / "var"), "PARCELGUARD_REGULATOR_DATABASE_URL": fresh_url,
            "COLUMNS": "200"}
