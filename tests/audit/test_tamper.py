"""Tampering with a stored audit log, on SQLite and PostgreSQL: `parcelguard audit verify` finds every change
made behind the application's back and names the first bad index or tree head; the export verifies offline."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from parcelguard import cli, verify
from parcelguard.audit import export
from parcelguard.audit import log as audit_log
from parcelguard.audit.models import AuditEntry, AuditNode, TreeHead
from parcelguard.core import db
from parcelguard.core.config import encode_root_key, get_settings
from parcelguard.crypto.keyring import Keyring
from tests.conftest import TEST_ROOT_KEY
from tests.tenants import Tenant, writing

SIZE, HEAD_EVERY = 40, 8


def entry(n: int) -> dict:
    return {"time": datetime(2026, 11, 25, 8, 0, n % 60, tzinfo=UTC).isoformat(), "actor": str(uuid.uuid4()),
            "role": "courier", "subject": f"shipment:{n}", "fields": ["recipient_phone"], "purpose": "delivery",
            "case_id": None, "decision": "allow", "reason": None, "request_id": f"req-{n}"}


@dataclass
class StoredLog:
    engine: Engine
    keyring: Keyring
    carrier_id: uuid.UUID
    slug: str
    env: dict[str, str]

    def entries(self) -> list[bytes]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(AuditEntry.entry).where(AuditEntry.carrier_id == self.carrier_id)
                                     .order_by(AuditEntry.idx)).scalars())

    def execute(self, *statements: object) -> None:
        with self.engine.begin() as conn:
            for statement in statements:
                conn.execute(statement)  # type: ignore[call-overload]

    def set_entry(self, index: int, raw: bytes) -> None:
        self.execute(update(AuditEntry).where(AuditEntry.carrier_id == self.carrier_id, AuditEntry.idx == index)
                     .values(entry=raw))

    def add_head(self, size: int, root: bytes, *, sign: bool, key_id: int | None = None) -> None:
        """A tree head written straight into the table: signed with the carrier's real key, or not at all."""
        with writing(self.engine) as s:
            signer = self.keyring.signing_key(db_session=s, carrier_id=self.carrier_id,
                                              purpose=audit_log.LOG_KEY_PURPOSE)
            timestamp = int(datetime.now(UTC).timestamp() * 1000)
            signature = (signer.sign(verify.tree_head_message(size, root, timestamp)) if sign
                         else secrets.token_bytes(64))
            s.add(TreeHead(carrier_id=self.carrier_id, tree_size=size, root_hash=root, timestamp_ms=timestamp,
                           signature=signature, key_id=signer.key_id if key_id is None else key_id))

    def public_key(self) -> tuple[int, bytes]:
        with db.make_sessionmaker(self.engine)() as s:
            keys = export.public_keys(db_session=s, keyring=self.keyring, carrier_id=self.carrier_id)
        assert len(keys) == 1
        return next(iter(keys.items()))

    def verify_in_process(self, **kwargs: object) -> verify.LogReport:
        with db.make_sessionmaker(self.engine)() as s, s.begin():
            export.snapshot(s)
            return export.verify_database(db_session=s, keyring=self.keyring, carrier_id=self.carrier_id,
                                          **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def stored(engine: Engine, keyring: Keyring, database_url: str, tmp_path: Path) -> StoredLog:
    """A fresh carrier whose log holds 40 entries, appended four at a time, with a signed head every 8."""
    tenant = Tenant.create(engine=engine, keyring=keyring)
    for first in range(0, SIZE, 4):
        with writing(engine) as s:
            audit_log.append(db_session=s, keyring=keyring, carrier_id=tenant.carrier_id,
                             entries=[entry(first + n) for n in range(4)], head_every=HEAD_EVERY)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARCELGUARD_")}
    env.update(PARCELGUARD_DATABASE_URL=database_url, PARCELGUARD_ROOT_KEY=encode_root_key(TEST_ROOT_KEY),
               PARCELGUARD_VAR_DIR=str(tmp_path / "var"), COLUMNS="200")
    return StoredLog(engine, keyring, tenant.carrier_id, tenant.slug, env)


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str


Audit = Callable[..., Run]


@pytest.fixture
def audit(stored: StoredLog) -> Iterator[Audit]:
    """`parcelguard audit ...` in this process (typer's runner), on the test database."""
    runner = CliRunner()

    def run(*args: str) -> Run:
        get_settings.cache_clear()
        try:
            result = runner.invoke(cli.app, ["audit", *args], env=stored.env)
        finally:
            get_settings.cache_clear()
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Run(result.exit_code, result.stdout, result.stderr)

    yield run
    get_settings.cache_clear()


def process(*args: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120,
                          check=False)


def ok_line(stored: StoredLog) -> str:
    return f"ok {SIZE} {verify.merkle_root(stored.entries()).hex()}\n"


# -- an intact log --------------------------------------------------------------------------------

def test_an_intact_log_verifies_from_the_database(stored: StoredLog) -> None:
    r = process("-m", "parcelguard", "audit", "verify", "--carrier", stored.slug, env=stored.env)
    assert (r.returncode, r.stdout, r.stderr) == (0, ok_line(stored), "")
    with db.make_sessionmaker(stored.engine)() as s:
        latest = audit_log.latest_tree_head(db_session=s, carrier_id=stored.carrier_id)
    assert r.stdout == f"ok {latest.tree_size} {latest.root_hash.hex()}\n"


def test_the_export_verifies_offline_with_nothing_but_verify_py_and_the_public_key(
    stored: StoredLog, audit: Audit, tmp_path: Path
) -> None:
    out = tmp_path / "log.jsonl"
    exported = audit("export", "--carrier", stored.slug, "--out", str(out))
    assert exported.exit_code == 0 and f"exported {SIZE} entries and 5 tree heads" in exported.stdout
    lines = [json.loads(line) for line in out.read_text(encoding="ascii").splitlines()]
    key_id, public = stored.public_key()
    assert lines[0] == {"type": "log", "carrier": str(stored.carrier_id), "size": SIZE,
                        "public_keys": {str(key_id): public.hex()}}
    assert [h["tree_size"] for h in lines[1:6]] == [8, 16, 24, 32, 40]
    assert [e["entry"].encode() for e in lines[6:]] == stored.entries()  # the exact stored bytes
    assert not (tmp_path / "log.jsonl.partial").exists()
    assert audit("export", "--carrier", stored.slug, "--out", "-").stdout == out.read_text()

    by_id = audit("verify", "--file", str(out), "--public-key", f"{key_id}={public.hex()}")
    assert (by_id.exit_code, by_id.stdout, by_id.stderr) == (0, ok_line(stored), "")
    from_db = audit("verify", "--file", str(out), "--keys-from-db", "--carrier", stored.slug)
    assert (from_db.exit_code, from_db.stdout, from_db.stderr) == (0, ok_line(stored), "")
    file_keys = audit("verify", "--file", str(out))
    assert file_keys.stdout == ok_line(stored) and "not that the carrier signed it" in file_keys.stderr

    module = process("-m", "parcelguard.verify", str(out), "--public-key", public.hex(), env=stored.env)
    assert (module.returncode, module.stdout, module.stderr) == (0, ok_line(stored), "")
    alone = tmp_path / "regulator"
    alone.mkdir()
    shutil.copy(verify.__file__, alone / "verify.py")
    copy = process("-I", "verify.py", str(out), "--public-key", f"{key_id}={public.hex()}", env={}, cwd=alone)
    assert (copy.returncode, copy.stdout) == (0, ok_line(stored)), copy.stderr


def test_the_export_goes_to_standard_output_when_no_file_is_named(stored: StoredLog, audit: Audit,
                                                                  tmp_path: Path) -> None:
    r = audit("export", "--carrier", stored.slug)  # `> log.jsonl`, as a shell user would write it
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 1 + 5 + SIZE and all(isinstance(json.loads(line), dict) for line in lines)
    assert r.stderr.strip() == f"exported {SIZE} entries and 5 tree heads of carrier {stored.slug}"
    out = tmp_path / "log.jsonl"
    out.write_text(r.stdout, encoding="ascii")
    key_id, public = stored.public_key()
    checked = audit("verify", "--file", str(out), "--public-key", f"{key_id}={public.hex()}")
    assert (checked.exit_code, checked.stdout) == (0, ok_line(stored))
    assert audit("export", "--carrier", stored.slug, "--out", "-").stdout == r.stdout


def test_verify_streams_the_database_in_chunks(stored: StoredLog) -> None:
    for chunk in (1, 3, 8, 1000):
        report = stored.verify_in_process(chunk=chunk)
        assert report.line() == ok_line(stored).strip() and len(report.heads) == 5


# -- tampering in the database --------------------------------------------------------------------

def test_a_field_changed_inside_an_entry_is_named_by_its_index(stored: StoredLog, audit: Audit) -> None:
    raw = stored.entries()[13]
    stored.set_entry(13, raw.replace(b'"purpose":"delivery"', b'"purpose":"marketing"'))
    r = audit("verify", "--carrier", stored.slug)
    assert r.exit_code == 1
    assert r.stdout == "bad index 13: the entry does not match its stored leaf hash: altered after it was logged\n"


def test_an_entry_rewritten_with_all_its_stored_hashes_is_named_by_the_signed_heads(stored: StoredLog,
                                                                                    audit: Audit) -> None:
    entries = stored.entries()
    entries[13] = entries[13].replace(b'"purpose":"delivery"', b'"purpose":"marketing"')
    stored.set_entry(13, entries[13])
    stored.execute(update(AuditNode).where(AuditNode.carrier_id == stored.carrier_id, AuditNode.level == 0,
                                           AuditNode.idx == 13).values(hash=verify.leaf_hash(entries[13])))
    r = audit("verify", "--carrier", stored.slug)  # the leaf hash agrees now, the stored pair [12, 14) not
    assert r.exit_code == 1 and r.stdout.startswith("bad index 12: the stored hash of entries [12, 14) is wrong")

    # Rewrite every stored subtree hash as well: the searchable copy of the purpose still says delivery.
    leaves = [verify.leaf_hash(e) for e in entries]
    with stored.engine.connect() as conn:
        nodes = conn.execute(select(AuditNode.level, AuditNode.idx)
                             .where(AuditNode.carrier_id == stored.carrier_id)).all()
    stored.execute(*[update(AuditNode).where(AuditNode.carrier_id == stored.carrier_id, AuditNode.level == level,
                                             AuditNode.idx == idx)
                     .values(hash=verify.root_of_leaf_hashes(leaves[idx << level:(idx + 1) << level]))
                     for level, idx in nodes])
    r = audit("verify", "--carrier", stored.slug)
    assert r.exit_code == 1
    assert r.stdout.startswith("bad index 13: the stored copy of its purpose differs from the logged entry")
    # And the copy too: only the signed heads still know the old tree.
    stored.execute(update(AuditEntry).where(AuditEntry.carrier_id == stored.carrier_id, AuditEntry.idx == 13)
                   .values(purpose="marketing"))
    r = audit("verify", "--carrier", stored.slug)
    assert r.exit_code == 1
    assert r.stdout.startswith("bad index 8: the entries [8, 16) do not match signed tree head 16")


@pytest.mark.parametrize("index", [0, 21, SIZE - 1])
def test_a_deleted_entry_is_named_by_its_index(stored: StoredLog, audit: Audit, index: int) -> None:
    stored.execute(delete(AuditEntry).where(AuditEntry.carrier_id == stored.carrier_id, AuditEntry.idx == index))
    r = audit("verify", "--carrier", stored.slug)
    assert r.exit_code == 1 and r.stdout.startswith(f"bad index {index}: missing")


def test_two_swapped_entries_are_named_by_the_first(stored: StoredLog, audit: Audit) -> None:
    entries = stored.entries()
    stored.set_entry(5, entries[30])
    stored.set_entry(30, entries[5])
    r = audit("verify", "--carrier", stored.slug)
    assert (r.exit_code, r.stdout) == (1, "bad index 5: the entry says index 30: moved or swapped\n")


def test_a_forged_tree_head_is_named_by_its_size(stored: StoredLog, audit: Audit) -> None:
    key_id, _ = stored.public_key()
    stored.add_head(16, verify.merkle_root(stored.entries()[:16]), sign=False)
    r = audit("verify", "--carrier", stored.slug)
    assert (r.exit_code, r.stdout) == (1, f"bad tree head 16: the signature does not verify with key {key_id}\n")


def test_a_tree_head_under_an_unknown_key_is_named_by_its_size(stored: StoredLog, audit: Audit) -> None:
    stored.add_head(24, verify.merkle_root(stored.entries()[:24]), sign=False, key_id=12345)
    r = audit("verify", "--carrier", stored.slug)
    assert (r.exit_code, r.stdout) == (1, "bad tree head 24: signed with key 12345, which is not a trusted key\n")


@pytest.mark.parametrize("size", [20, SIZE])
def test_a_validly_signed_head_over_a_wrong_root_is_named_by_its_size(stored: StoredLog, audit: Audit,
                                                                     size: int) -> None:
    stored.add_head(size, verify.merkle_root([b"a log that never was"]), sign=True)
    r = audit("verify", "--carrier", stored.slug)
    assert r.exit_code == 1
    assert r.stdout.startswith(f"bad tree head {size}: its root_hash is not the root of the first {size} entries")


def test_a_damaged_subtree_hash_is_named_and_the_proofs_served_from_it_fail(stored: StoredLog, audit: Audit) -> None:
    stored.execute(update(AuditNode).where(AuditNode.carrier_id == stored.carrier_id, AuditNode.level == 3,
                                           AuditNode.idx == 1).values(hash=secrets.token_bytes(32)))
    r = audit("verify", "--carrier", stored.slug)
    assert r.exit_code == 1 and r.stdout.startswith("bad index 8: the stored hash of entries [8, 16) is wrong")
    with db.make_sessionmaker(stored.engine)() as s:
        heads = stored_heads(s, stored)
        bad = export.served_proofs(db_session=s, carrier_id=stored.carrier_id, heads=heads)
    assert str(bad).startswith("bad tree head 16: the consistency proof from tree head 8 served from the stored")


def stored_heads(s: Session, stored: StoredLog) -> list[verify.CheckedHead]:
    rows = s.scalars(select(TreeHead).where(TreeHead.carrier_id == stored.carrier_id).order_by(TreeHead.tree_size))
    return [verify.CheckedHead(h.tree_size, h.root_hash, h.timestamp_ms, h.key_id) for h in rows]


def test_a_missing_subtree_hash_is_named(stored: StoredLog) -> None:
    stored.execute(delete(AuditNode).where(AuditNode.carrier_id == stored.carrier_id, AuditNode.level == 3,
                                           AuditNode.idx == 2))
    assert stored.verify_in_process().line().startswith("bad index 16: the stored hash of entries [16, 24)")
    with db.make_sessionmaker(stored.engine)() as s:
        bad = export.served_proofs(db_session=s, carrier_id=stored.carrier_id, heads=stored_heads(s, stored))
    assert str(bad) == "bad tree head 24: stored subtree hashes its proofs need are missing"


# -- tampering with the export --------------------------------------------------------------------

def test_an_edited_line_of_the_export_is_found(stored: StoredLog, audit: Audit, tmp_path: Path) -> None:
    out = tmp_path / "log.jsonl"
    assert audit("export", "--carrier", stored.slug, "--out", str(out)).exit_code == 0
    key_id, public = stored.public_key()
    lines = out.read_text().splitlines(keepends=True)
    line_of_13 = 1 + 5 + 13

    def verify_edited(edited: list[str]) -> Run:
        out.write_text("".join(edited))
        return audit("verify", "--file", str(out), "--public-key", f"{key_id}={public.hex()}")

    record = json.loads(lines[line_of_13])
    record["entry"] = record["entry"].replace('"purpose":"delivery"', '"purpose":"marketing"')
    edited = [*lines[:line_of_13], json.dumps(record) + "\n", *lines[line_of_13 + 1:]]
    r = verify_edited(edited)
    assert r.exit_code == 1 and r.stdout.startswith("bad index 13: the entry does not match its stored leaf hash")

    record["leaf_hash"] = verify.leaf_hash(record["entry"].encode()).hex()  # a careful forger
    edited[line_of_13] = json.dumps(record) + "\n"
    r = verify_edited(edited)
    assert r.exit_code == 1 and r.stdout.startswith("bad index 8: the entries [8, 16) do not match signed tree head")

    r = verify_edited([*lines[:line_of_13], *lines[line_of_13 + 1:]])
    assert (r.exit_code, r.stdout) == (1, "bad index 13: missing: the next entry in the log is 14\n")

    module = process("-m", "parcelguard.verify", str(out), "--public-key", public.hex(), env=stored.env)
    assert (module.returncode, module.stdout) == (1, "bad index 13: missing: the next entry in the log is 14\n")


def test_a_file_of_another_carrier_or_no_export_at_all_is_an_operator_error(
    stored: StoredLog, audit: Audit, engine: Engine, keyring: Keyring, tmp_path: Path
) -> None:
    out = tmp_path / "log.jsonl"
    assert audit("export", "--carrier", stored.slug, "--out", str(out)).exit_code == 0
    other = Tenant.create(engine=engine, keyring=keyring)
    with pytest.raises(cli.UserError, match="is the log of carrier"):
        audit("verify", "--file", str(out), "--carrier", other.slug)
    (tmp_path / "notes.txt").write_text("hello\n")
    with pytest.raises(cli.UserError, match="not an audit log export"):
        audit("verify", "--file", str(tmp_path / "notes.txt"))


# -- which carrier --------------------------------------------------------------------------------

def test_the_carrier_may_be_left_out_only_when_there_is_exactly_one(fresh_url: str, keyring: Keyring,
                                                                    tmp_path: Path) -> None:
    db.upgrade(fresh_url)
    engine = db.make_engine(fresh_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARCELGUARD_")}
    env.update(PARCELGUARD_DATABASE_URL=fresh_url, PARCELGUARD_ROOT_KEY=encode_root_key(TEST_ROOT_KEY),
               PARCELGUARD_VAR_DIR=str(tmp_path / "var"))
    try:
        none = process("-m", "parcelguard", "audit", "verify", env=env)
        assert (none.returncode, none.stderr) == (1, "parcelguard: there is no carrier yet\n")
        only = Tenant.create(engine=engine, keyring=keyring)
        for batch in ([entry(0), entry(1)], [entry(2)]):  # a head at 2, none at 3
            with writing(engine) as s:
                audit_log.append(db_session=s, keyring=keyring, carrier_id=only.carrier_id, entries=batch,
                                 head_every=2)
        r = process("-m", "parcelguard", "audit", "verify", env=env)
        with engine.connect() as conn:
            raw = list(conn.execute(select(AuditEntry.entry).order_by(AuditEntry.idx)).scalars())
        assert (r.returncode, r.stdout) == (0, f"ok 3 {verify.merkle_root(raw).hex()}\n")
        assert "entries [2, 3) are not covered by a signed tree head" in r.stderr
        Tenant.create(engine=engine, keyring=keyring)
        two = process("-m", "parcelguard", "audit", "export", "--out", str(tmp_path / "x.jsonl"), env=env)
        assert two.returncode == 1
        assert two.stderr == "parcelguard: there is more than one carrier: name one with --carrier SLUG\n"
    finally:
        engine.dispose()
