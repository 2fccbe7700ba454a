"""`parcelguard blacklist ...` as an operator and a carrier run it: real processes, real exit codes, real output;
the blacklist's database on each engine, the carrier's on SQLite."""

from __future__ import annotations

import json
import os
import stat
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from parcelguard.blacklist import protocol
from parcelguard.blacklist import service as carrier_side
from parcelguard.blacklist.platform import service as platform
from parcelguard.blacklist.platform.keys import BlacklistKeys
from parcelguard.blacklist.platform.migrations import MIGRATIONS_DIR
from parcelguard.blacklist.platform.models import Entry
from parcelguard.core import db
from parcelguard.core.clock import now
from parcelguard.core.config import BlacklistSettings, Settings
from parcelguard.crypto.keyring import Keyring
from parcelguard.identity import documents
from tests.blacklist.conftest import forms, id_number
from tests.support import parcelguard


@pytest.fixture
def env(tmp_path: Path, fresh_url: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PARCELGUARD_")}
    return {**clean, "PARCELGUARD_VAR_DIR": str(tmp_path / "var"), "PARCELGUARD_BLACKLIST_DATABASE_URL": fresh_url,
            "PARCELGUARD_DATABASE_URL": f"sqlite:///{tmp_path / 'carrier.db'}", "COLUMNS": "200"}


def ok(*args: str, env: dict[str, str], stdin: str | None = None) -> str:
    done = parcelguard(*args, env=env, stdin=stdin)
    assert done.returncode == 0, done.stderr
    return done.stdout


def refused(*args: str, env: dict[str, str], stdin: str | None = None) -> str:
    done = parcelguard(*args, env=env, stdin=stdin)
    assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr
    return done.stderr


def test_init_registration_person_hash_entries_and_appeals_from_the_command_line(
    tmp_path: Path, env: dict[str, str],
) -> None:
    var = tmp_path / "var"
    first = ok("blacklist", "init", env=env)
    for name in ("blacklist-root.key", "blacklist-industry.key"):
        assert stat.S_IMODE((var / name).stat().st_mode) == 0o600 and name in first
    assert "at migration blacklist_0001" in first
    assert "created" not in ok("blacklist", "init", env=env)
    engine = db.make_engine(env["PARCELGUARD_BLACKLIST_DATABASE_URL"])
    try:
        assert db.current_revision(engine) == db.head_revision(MIGRATIONS_DIR)

        # The carrier: its registration, added on the blacklist from standard input, once.
        ok("init", env=env)
        ok("carriers", "add", "--slug", "demo", "--name", "演示快递", "--prefix", "DE", env=env)
        registration = ok("blacklist", "registration", "--carrier", "demo", env=env)
        entry = json.loads(registration)
        assert ok("blacklist", "registration", "--carrier", "demo", env=env) == registration  # the same key
        added = ok("blacklist", "carriers", "add", "-", env=env, stdin=registration)
        assert f"carrier demo ({entry['carrier_id']}) registered; key {entry['key_id']} added" in added
        assert "already registered; key" in ok("blacklist", "carriers", "add", "-", env=env, stdin=registration)
        assert entry["key_id"] in ok("blacklist", "carriers", "list", env=env)

        # A person's hash under the (development) industry key, from a number on standard input, typed any way.
        number = id_number()
        hashed = {ok("blacklist", "person-hash", env=env, stdin=forms(number)[i] + "\n").strip()
                  for i in (0, 2, 3)}  # 18 digits, 15 digits, with spaces
        industry_key = Settings(var_dir=var).load_blacklist_industry_key()
        person = protocol.person_hash(industry_key, documents.parse(number).index_key)
        assert hashed == {protocol.b64(person)}
        assert number[:-1] not in refused("blacklist", "person-hash", env=env, stdin=number[:-1] + "\n")

        # An entry as the carrier's platform reports it (signed with its reporting key) ...
        carrier_engine = db.make_engine(env["PARCELGUARD_DATABASE_URL"])
        try:
            with db.make_sessionmaker(carrier_engine)() as s, s.begin():
                db.begin_write(s)
                carrier_id = carrier_side.accounts.get_carrier_by_slug(db_session=s, slug="demo").id  # type: ignore[union-attr]
                code, key_id, signer = carrier_side.reporting_key(
                    db_session=s, keyring=Keyring(Settings(var_dir=var).load_root_key()), carrier_id=carrier_id)
                wire = protocol.Report(carrier=code, key_id=key_id, entry_id=uuid.uuid4(), person=person,
                                       reason_code="waybill_theft", evidence_ref="CASE-9",
                                       reported_at=now()).signed(signer.sign)
        finally:
            carrier_engine.dispose()
        keys = BlacklistKeys.from_settings(BlacklistSettings(var_dir=var))
        with db.make_sessionmaker(engine)() as s, s.begin():
            platform.report(db_session=s, keys=keys, wire=wire)

        # ... seen by the operator, found by the person's hash, its signature verifying; then appealed.
        assert f"{wire['entry_id']}\tlisted\tdemo\twaybill_theft\tCASE-9" in ok("blacklist", "entries", "list", env=env)
        found = ok("blacklist", "entries", "find", env=env, stdin=protocol.b64(person) + "\n")
        assert wire["entry_id"] in found and "signature verifies" in found
        assert "no entry" in ok("blacklist", "entries", "find", env=env, stdin=protocol.b64(bytes(32)) + "\n")
        assert "call 13912345678" not in refused("blacklist", "appeals", "open", "--entry", wire["entry_id"],
                                                 "--grounds", "call 13912345678", env=env)
        opened = ok("blacklist", "appeals", "open", "--entry", wire["entry_id"], "--grounds",
                    "The court found no theft.", "--via", "demo", env=env)
        appeal_id = opened.split()[1]
        assert "through carrier demo" in opened
        decided = ok("blacklist", "appeals", "decide", appeal_id, "--decision", "removed", "--reason",
                     "Judgment of the district court.", env=env)
        assert f"entry {wire['entry_id']} removed" in decided
        assert "decided before" in refused("blacklist", "appeals", "decide", appeal_id, "--decision", "upheld",
                                           "--reason", "Second thoughts.", env=env)
        assert f"{appeal_id}\tremoved\tentry {wire['entry_id']}\tvia demo" in ok("blacklist", "appeals", "list",
                                                                                  env=env)
        assert wire["entry_id"] in ok("blacklist", "entries", "list", "--status", "removed", env=env)
        with engine.connect() as conn:
            assert conn.scalar(select(Entry.status)) == "removed"  # kept, marked

        assert "revoked" in ok("blacklist", "carriers", "revoke-key", "--carrier", "demo", entry["key_id"], env=env)
        assert "was revoked already" in ok("blacklist", "carriers", "revoke-key", "--carrier", "demo",
                                           entry["key_id"], env=env)
        assert "revoked" in refused("blacklist", "carriers", "add", "-", env=env, stdin=registration)
    finally:
        engine.dispose()


def test_commands_before_init_say_to_run_init(env: dict[str, str]) -> None:
    assert "parcelguard blacklist init" in refused("blacklist", "entries", "list", env=env)
    for args in (("blacklist", "run"), ("blacklist", "appeals", "decide"), ("blacklist", "person-hash")):
        done = parcelguard(*args, "--help", env=env)
        assert done.returncode == 0 and "Usage" in done.stdout, args
