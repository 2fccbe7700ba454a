"""The `parcelguard` command as an operator runs it: a real process, real exit codes, real output."""

from __future__ import annotations

import json
import os
import stat
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from parcelguard.accounts.models import Carrier, Station, User
from parcelguard.blacklist.platform.migrations import MIGRATIONS_DIR as BLACKLIST_MIGRATIONS
from parcelguard.blacklist.platform.models import CarrierKey, RegisteredCarrier
from parcelguard.core import db
from parcelguard.crypto.models import DataKey, KeyEncryptionKey
from tests.support import count_rows, parcelguard
from tests.tenants import writing


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARCELGUARD_")}
    env.update(PARCELGUARD_VAR_DIR=str(tmp_path / "var"), COLUMNS="200", **extra)
    return env


@pytest.fixture
def dev_env(tmp_path: Path, fresh_url: str) -> dict[str, str]:
    return _env(tmp_path, PARCELGUARD_DATABASE_URL=fresh_url)




def test_init_demo_creates_a_private_key_file_and_the_demo_carrier_once(
    tmp_path: Path, dev_env: dict[str, str]
) -> None:
    first = parcelguard("init", "--demo", env=dev_env)
    assert first.returncode == 0, first.stderr
    key = tmp_path / "var" / "root.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    # The development regulator pair intake seals to: the public half loads, the private half is 0600.
    assert stat.S_IMODE((tmp_path / "var" / "regulator.key").stat().st_mode) == 0o600
    from parcelguard.core.config import Settings
    public = Settings(var_dir=tmp_path / "var").load_regulator_public_key()
    regulator_before = (tmp_path / "var" / "regulator.pub").read_bytes()
    for username in ("demo-courier-1", "demo-courier-3", "demo-manager", "demo-security", "demo-auditor",
                     "demo-shop", "regulator"):
        assert username in first.stdout
    url = dev_env["PARCELGUARD_DATABASE_URL"]
    counts = {m: count_rows(url, m) for m in (Carrier, Station, User, KeyEncryptionKey)}
    # Eight demo logins, the regulator's account, and the telephony service account of the demo pool.
    assert counts[Carrier] == 1 and counts[Station] == 2 and counts[User] == 10
    # The industry blacklist `run-all` starts beside it: its development keys (0600), its own database at its
    # newest migration, and the demo carrier registered on it with the reporting key the carrier signs with.
    var = tmp_path / "var"
    blacklist_files = [var / "blacklist-root.key", var / "blacklist-industry.key"]
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in blacklist_files)
    assert len(Settings(var_dir=var).load_blacklist_industry_key()) == 32  # the carrier's development default
    blacklist_url = f"sqlite:///{var / 'blacklist.db'}"
    engine = db.make_engine(blacklist_url)
    try:
        assert db.current_revision(engine) == db.head_revision(BLACKLIST_MIGRATIONS)
    finally:
        engine.dispose()
    registration = json.loads(parcelguard("blacklist", "registration", "--carrier", "demo", env=dev_env).stdout)
    assert count_rows(blacklist_url, RegisteredCarrier, RegisteredCarrier.code == "demo",
                      RegisteredCarrier.id == uuid.UUID(registration["carrier_id"])) == 1
    assert count_rows(blacklist_url, CarrierKey, CarrierKey.key_id == registration["key_id"],
                      CarrierKey.revoked_at.is_(None)) == 1
    assert f"carrier demo registered, reporting key {registration['key_id']} added" in first.stdout

    key_before = key.read_bytes()
    blacklist_before = [f.read_bytes() for f in blacklist_files]
    blacklist_counts = {m: count_rows(blacklist_url, m) for m in (RegisteredCarrier, CarrierKey)}
    second = parcelguard("init", "--demo", env=dev_env)
    assert second.returncode == 0, second.stderr
    assert "created" not in second.stdout.split("demo logins")[1]
    assert "created development" not in second.stdout
    assert (f"carrier demo already registered, reporting key {registration['key_id']} already registered"
            in second.stdout)
    assert {m: count_rows(url, m) for m in counts} == counts
    assert {m: count_rows(blacklist_url, m) for m in blacklist_counts} == blacklist_counts == {
        RegisteredCarrier: 1, CarrierKey: 1}
    assert key.read_bytes() == key_before
    assert [f.read_bytes() for f in blacklist_files] == blacklist_before
    assert (tmp_path / "var" / "regulator.pub").read_bytes() == regulator_before and len(public) == 32


def test_init_demo_leaves_the_blacklist_to_an_operator_who_configured_one(
    tmp_path: Path, dev_env: dict[str, str]
) -> None:
    # Pointed at a blacklist of their own, the operator gets no development blacklist (keys, database) here.
    done = parcelguard("init", "--demo", env={**dev_env, "PARCELGUARD_BLACKLIST_URL": "http://127.0.0.1:9"})
    assert done.returncode == 0, done.stderr
    assert "blacklist" not in done.stdout
    assert sorted(p.name for p in (tmp_path / "var").glob("blacklist*")) == []
    # With their own industry key (and the blacklist beside this platform), no development industry key.
    key = "A" * 43
    done = parcelguard("init", "--demo", env={**dev_env, "PARCELGUARD_BLACKLIST_INDUSTRY_KEY": key})
    assert done.returncode == 0, done.stderr
    assert "carrier demo registered" in done.stdout
    assert sorted(p.name for p in (tmp_path / "var").glob("blacklist*")) == ["blacklist-root.key", "blacklist.db"]


def test_users_add_reads_the_password_from_stdin(dev_env: dict[str, str]) -> None:
    assert parcelguard("init", "--demo", env=dev_env).returncode == 0
    r = parcelguard("users", "add", "--carrier", "demo", "--station", "DE-SH-PD01", "--role", "courier",
                    "--username", "new-courier", env=dev_env, stdin="a long enough secret\n")
    assert r.returncode == 0, r.stderr
    assert "a long enough secret" not in r.stdout + r.stderr
    assert count_rows(dev_env["PARCELGUARD_DATABASE_URL"], User) == 11


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("users", "add", "--carrier", "nope", "--role", "auditor", "--username", "x-user"), "no carrier"),
        (("users", "add", "--carrier", "demo", "--role", "courier", "--username", "x-user"), "station"),
        (("users", "add", "--carrier", "demo", "--role", "auditor", "--username", "demo-auditor"), "taken"),
        (("keys", "rotate", "--carrier", "nope"), "no carrier"),
    ],
)
def test_an_operator_mistake_is_one_line_and_a_non_zero_exit(
    dev_env: dict[str, str], args: tuple[str, ...], message: str
) -> None:
    assert parcelguard("init", "--demo", env=dev_env).returncode == 0
    users_before = count_rows(dev_env["PARCELGUARD_DATABASE_URL"], User)
    r = parcelguard(*args, env=dev_env, stdin="a long enough secret\n")
    assert r.returncode == 1
    assert len(r.stderr.strip().splitlines()) == 1 and message in r.stderr
    assert "Traceback" not in r.stderr
    assert count_rows(dev_env["PARCELGUARD_DATABASE_URL"], User) == users_before


def test_keys_rotate_then_rewrap_moves_data_keys_to_the_new_version(dev_env: dict[str, str]) -> None:
    from parcelguard.core.config import Settings
    from parcelguard.crypto.keyring import Keyring
    from parcelguard.crypto.types import Aad

    assert parcelguard("init", "--demo", env=dev_env).returncode == 0
    url = dev_env["PARCELGUARD_DATABASE_URL"]
    settings = Settings(var_dir=Path(dev_env["PARCELGUARD_VAR_DIR"]), database_url=url)
    keyring = Keyring(settings.load_root_key())
    engine = db.make_engine(url)
    aad = Aad("test", "value", "row-1")
    with writing(engine) as s:
        carrier_id = s.scalar(select(Carrier.id).where(Carrier.slug == "demo"))
        old = keyring.encrypt(db_session=s, carrier_id=carrier_id, plaintext=b"before rotation", aad=aad)
    with db.make_sessionmaker(engine)() as s:  # this one, and the demo shipments' key
        data_keys = len(s.scalars(select(DataKey.id).where(DataKey.carrier_id == carrier_id)).all())
    assert data_keys >= 2

    rotated = parcelguard("keys", "rotate", "--carrier", "demo", env=dev_env)
    assert rotated.returncode == 0 and "version 2" in rotated.stdout
    rewrapped = parcelguard("keys", "rewrap", "--carrier", "demo", env=dev_env)
    assert rewrapped.returncode == 0 and f"re-wrapped {data_keys} data key" in rewrapped.stdout

    fresh = Keyring(settings.load_root_key())
    with db.make_sessionmaker(engine)() as s, s.begin():
        primary = s.scalar(select(KeyEncryptionKey.id).where(KeyEncryptionKey.carrier_id == carrier_id,
                                                             KeyEncryptionKey.state == "primary"))
        assert set(s.scalars(select(DataKey.kek_id).where(DataKey.carrier_id == carrier_id))) == {primary}
        assert fresh.decrypt(db_session=s, carrier_id=carrier_id, ciphertext=old, aad=aad) == b"before rotation"
    engine.dispose()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({}, "no root key"),
        ({"PARCELGUARD_ROOT_KEY_FILE": "DEVKEY", "PARCELGUARD_DATABASE_URL": "postgresql+psycopg://x@h/db"},
         "development key"),
        ({"PARCELGUARD_ROOT_KEY": "A" * 43, "PARCELGUARD_DATABASE_URL": "postgresql+psycopg://x@h/db"},
         "no regulator public key"),
        ({"PARCELGUARD_ROOT_KEY": "A" * 43, "PARCELGUARD_REGULATOR_PUBLIC_KEY": "B" * 43}, "SQLite"),
    ],
)
def test_production_refuses_to_start_on_development_settings(
    tmp_path: Path, extra: dict[str, str], message: str
) -> None:
    dev_key = tmp_path / "copied.key"
    env = _env(tmp_path, PARCELGUARD_ENV="dev")
    assert parcelguard("init", env={**env, "PARCELGUARD_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}).returncode == 0
    dev_key.write_bytes((tmp_path / "var" / "root.key").read_bytes())
    extra = {k: (str(dev_key) if v == "DEVKEY" else v) for k, v in extra.items()}
    r = parcelguard("run", env={**env, **extra, "PARCELGUARD_ENV": "prod"})
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and message in r.stderr


def test_every_command_has_useful_help(tmp_path: Path) -> None:
    env = _env(tmp_path)
    for args in (("init",), ("run",), ("db", "upgrade"), ("users", "add"), ("keys", "rotate"), ("keys", "rewrap"),
                 ("carriers", "add"), ("version",)):
        r = parcelguard(*args, "--help", env=env)
        assert r.returncode == 0 and "Usage" in r.stdout, args
    assert parcelguard("version", env=env).stdout.startswith("parcelguard ")
