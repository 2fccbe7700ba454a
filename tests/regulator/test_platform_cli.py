"""`parcelguard regulator ...` as an operator runs it: a real process, real exit codes, real output."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from parcelguard.core import db
from parcelguard.core.config import RegulatorSettings, Settings
from parcelguard.crypto import signing
from parcelguard.regulator import protocol
from parcelguard.regulator.platform.keys import PlatformKeys
from parcelguard.regulator.platform.migrations import MIGRATIONS_DIR
from parcelguard.regulator.platform.models import CarrierKey, RegisteredCarrier
from tests.regulator.conftest import PERSON, Carrier
from tests.servers import free_port, wait_until_up
from tests.support import count_rows, parcelguard


def registration(code: str = "demo", carrier_id: uuid.UUID | None = None) -> tuple[dict[str, str], bytes]:
    """What `parcelguard uploader registration` prints, and the private half of its key."""
    seed, public = signing.generate()
    return ({"code": code, "carrier_id": str(carrier_id or uuid.uuid4()), "name": "演示快递",
             "key_id": signing.key_id(public), "public_key": protocol.b64(public)}, seed)




def test_init_makes_the_development_keys_once_and_migrates_the_platform_database(
    tmp_path: Path, env: dict[str, str],
) -> None:
    first = parcelguard("regulator", "init", env=env)
    assert first.returncode == 0, first.stderr
    var = tmp_path / "var"
    for private in ("regulator.key", "regulator-signing.key", "regulator-root.key"):
        assert stat.S_IMODE((var / private).stat().st_mode) == 0o600
    keys = PlatformKeys.from_settings(RegulatorSettings(var_dir=var))
    assert keys.receipt_key_id in first.stdout
    # the carrier side seals to, and checks receipts with, the same development pairs
    carrier = Settings(var_dir=var)
    assert carrier.load_regulator_public_key() == keys.sealing_public_key
    assert carrier.load_regulator_receipt_keys() == {keys.receipt_key_id: keys.receipt_public_key}
    engine = db.make_engine(env["PARCELGUARD_REGULATOR_DATABASE_URL"])
    try:
        assert db.current_revision(engine) == db.head_revision(MIGRATIONS_DIR)
    finally:
        engine.dispose()

    before = {p.name: p.read_bytes() for p in var.iterdir() if p.suffix in (".key", ".pub")}
    second = parcelguard("regulator", "init", env=env)
    assert second.returncode == 0 and "created" not in second.stdout
    assert {p.name: p.read_bytes() for p in var.iterdir() if p.suffix in (".key", ".pub")} == before


def test_carriers_add_registers_from_a_file_or_standard_input_once(tmp_path: Path, env: dict[str, str]) -> None:
    assert parcelguard("regulator", "init", env=env).returncode == 0
    entry, _ = registration()
    path = tmp_path / "demo.json"
    path.write_text(json.dumps(entry, ensure_ascii=False), encoding="utf-8")
    added = parcelguard("regulator", "carriers", "add", str(path), env=env)
    assert added.returncode == 0, added.stderr
    assert f"carrier demo ({entry['carrier_id']}) registered; key {entry['key_id']} added" in added.stdout
    again = parcelguard("regulator", "carriers", "add", "-", env=env, stdin=json.dumps(entry))
    assert again.returncode == 0 and "already registered; key" in again.stdout
    rotated, _ = registration(carrier_id=uuid.UUID(entry["carrier_id"]))
    assert parcelguard("regulator", "carriers", "add", "-", env=env, stdin=json.dumps(rotated)).returncode == 0
    url = env["PARCELGUARD_REGULATOR_DATABASE_URL"]
    assert count_rows(url, RegisteredCarrier) == 1 and count_rows(url, CarrierKey) == 2

    revoked = parcelguard("regulator", "carriers", "revoke-key", "--carrier", "demo", entry["key_id"], env=env)
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    refused = parcelguard("regulator", "carriers", "add", str(path), env=env)
    assert refused.returncode == 1 and "revoked" in refused.stderr


def _mutated(change: dict[str, str]) -> str:
    entry, _ = registration(code="other")
    return json.dumps({**entry, **change})


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ("{", "not JSON"),
        ("[]", "a registration is a JSON object"),
        (_mutated({"key_id": "0123456789abcdef"}), "key_id does not match public_key"),
        (_mutated({"carrier_id": "nope"}), "carrier_id is not a UUID"),
        (_mutated({"public_key": "not base64!"}), "public_key is not standard base64"),
        (_mutated({"public_key": "AAAA", "key_id": signing.key_id(b"\0\0\0")}), "32 bytes"),
        (_mutated({"code": "Not A Code"}), "carrier code"),
        ("TAKEN", "Another carrier is registered with this code"),
    ],
)
def test_an_operator_mistake_is_one_line_and_a_non_zero_exit_and_stores_nothing(
    env: dict[str, str], stdin: str, message: str,
) -> None:
    assert parcelguard("regulator", "init", env=env).returncode == 0
    entry, _ = registration(code="taken")
    assert parcelguard("regulator", "carriers", "add", "-", env=env, stdin=json.dumps(entry)).returncode == 0
    if stdin == "TAKEN":
        stdin = json.dumps(registration(code="taken")[0])  # another carrier's id under the same code
    r = parcelguard("regulator", "carriers", "add", "-", env=env, stdin=stdin)
    assert r.returncode == 1
    assert len(r.stderr.strip().splitlines()) == 1 and message in r.stderr and "Traceback" not in r.stderr
    assert count_rows(env["PARCELGUARD_REGULATOR_DATABASE_URL"], RegisteredCarrier) == 1


def test_carriers_add_before_init_says_to_run_init(tmp_path: Path, env: dict[str, str]) -> None:
    r = parcelguard("regulator", "carriers", "add", "-", env=env, stdin=json.dumps(registration()[0]))
    assert r.returncode == 1 and "parcelguard regulator init" in r.stderr
    missing = parcelguard("regulator", "carriers", "add", str(tmp_path / "nothing.json"), env=env)
    assert missing.returncode == 1 and "cannot read" in missing.stderr


def test_the_platform_refuses_to_migrate_the_carrier_database(tmp_path: Path, env: dict[str, str]) -> None:
    carrier_db = {**env, "PARCELGUARD_DATABASE_URL": env["PARCELGUARD_REGULATOR_DATABASE_URL"]}
    assert parcelguard("init", env=carrier_db).returncode == 0
    r = parcelguard("regulator", "init", env=env)
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1 and "another platform" in r.stderr


def test_run_serves_the_platform_on_its_own_port(tmp_path: Path, env: dict[str, str]) -> None:
    """`regulator run` migrates, serves, and takes a batch from a carrier registered with `carriers add`."""
    assert parcelguard("regulator", "init", env=env).returncode == 0
    entry, seed = registration()
    assert parcelguard("regulator", "carriers", "add", "-", env=env, stdin=json.dumps(entry)).returncode == 0
    port = free_port()
    log = (tmp_path / "platform.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "parcelguard", "regulator", "run", "--port", str(port)], env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, process=proc)
        assert httpx.get(url + "/readyz").json()["status"] == "ready"
        keys = PlatformKeys.from_settings(RegulatorSettings(var_dir=tmp_path / "var"))
        assert httpx.get(url + "/api/v1/receipt-keys").json()["keys"] == {
            keys.receipt_key_id: protocol.b64(keys.receipt_public_key)}
        carrier = Carrier(code="demo", id=uuid.UUID(entry["carrier_id"]), seed=seed, key_id=entry["key_id"])
        record = carrier.record(PERSON, recipient=keys.sealing_public_key)
        answer = httpx.post(url + "/api/v1/batches", json=carrier.batch([record]), timeout=30)
        assert answer.status_code == 200 and answer.json()["accepted"] == [str(record.record_id)]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def test_every_regulator_command_has_useful_help(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARCELGUARD_")}
    for args in (("regulator",), ("regulator", "init"), ("regulator", "run"), ("regulator", "carriers", "add"),
                 ("regulator", "carriers", "revoke-key")):
        r = parcelguard(*args, "--help", env=env)
        assert r.returncode == 0 and "Usage" in r.stdout, args
