"""A carrier's keys over HTTP on both engines: the overview counts the data keys intake made, a rotation makes
version n+1 primary and the next parcel's key goes under it, re-wrapping in batches moves the progress in steps to
100 % while every old ciphertext still opens, each action is an audit-log entry that verifies, and the roles that
keep no keys are refused. The command line logs the same way."""

from __future__ import annotations

import math
import os
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, select, update
from typer.testing import CliRunner

from parcelguard import cli
from parcelguard.audit import log as audit_log
from parcelguard.core import db
from parcelguard.core.auth import Role
from parcelguard.core.config import encode_root_key, get_settings
from parcelguard.core.errors import Forbidden
from parcelguard.crypto.keyring import Keyring
from parcelguard.crypto.models import DataKey, KeyEncryptionKey
from parcelguard.crypto.types import Aad
from parcelguard.keys import service as keys
from parcelguard.retention.classes import ITEM_DESCRIPTION
from parcelguard.shipments.service import FIELD_CLASSES
from tests.conftest import TEST_ROOT_KEY
from tests.tenants import Tenant, writing
from tests.waybills.test_label_api import take_in, terminal_login

EXTRA = 3  # data keys of other classes a test makes under version 1, so that re-wrapping takes several batches


def live_data_keys(engine: Engine, tenant: Tenant) -> dict[int, int]:
    """Version -> live data keys it wraps, read straight from the tables."""
    with db.make_sessionmaker(engine)() as s:
        rows = s.execute(select(KeyEncryptionKey.version, func.count(DataKey.id))
                         .join(DataKey, DataKey.kek_id == KeyEncryptionKey.id)
                         .where(KeyEncryptionKey.carrier_id == tenant.carrier_id, DataKey.destroyed_at.is_(None),
                                DataKey.wrapped_key.is_not(None))
                         .group_by(KeyEncryptionKey.version)).all()
    return {version: count for version, count in rows}


def encrypt_extra(engine: Engine, keyring: Keyring, tenant: Tenant) -> list[tuple[Aad, bytes]]:
    with writing(engine) as s:
        return [(aad, bytes(keyring.encrypt(db_session=s, carrier_id=tenant.carrier_id, plaintext=f"value {i}",
                                            aad=aad, data_class=f"test-{i}")))
                for i, aad in enumerate(Aad("test", "value", f"row-{i}") for i in range(EXTRA))]


def reveal_name(http: httpx.Client, officer: dict[str, str], shipment_id: object) -> str:
    case = http.post("/api/v1/audit/cases", headers=officer, json={
        "reference": f"KEYS-{uuid.uuid4().hex[:6]}", "summary": "reading a parcel after a key rotation"})
    r = http.post("/api/v1/reveals", headers=officer, json={
        "subject": f"shipment:{shipment_id}", "fields": ["recipient_name"], "purpose": "investigation",
        "case_id": case.json()["id"]})
    assert r.status_code == 200, r.text
    return str(r.json()["fields"]["recipient_name"])


def test_overview_counts_rotation_goes_to_the_new_version_and_rewrap_moves_in_steps_to_the_end(
    http: httpx.Client, engine: Engine, keyring: Keyring, tenant: Tenant
) -> None:
    officer = tenant.login(http, Role.HQ_SECURITY)
    courier = terminal_login(http, tenant)
    first = take_in(http, courier)
    extra = encrypt_extra(engine, keyring, tenant)
    n = live_data_keys(engine, tenant)[1]
    assert n >= 1 + EXTRA

    overview = http.get("/api/v1/keys", headers=officer)
    assert overview.status_code == 200, overview.text
    body = overview.json()
    assert [(v["version"], v["state"], v["data_keys"]) for v in body["versions"]] == [(1, "primary", n)]
    assert body["data_keys"] == {"total": n, "primary": n, "older": 0, "destroyed": 0, "rewrap_progress": 1.0}
    assert body["primary_version"] == 1 and body["index_key"]["version"] == 1
    assert "wrapped" not in overview.text and "public_key" not in overview.text  # ids and counts, no key

    rotated = http.post("/api/v1/keys:rotate", headers=officer)
    assert rotated.status_code == 201, rotated.text
    assert rotated.json()["version"] == 2
    body = http.get("/api/v1/keys", headers=officer).json()
    assert [(v["version"], v["state"]) for v in body["versions"]] == [(1, "active"), (2, "primary")]
    assert body["data_keys"]["rewrap_progress"] == 0.0 and body["data_keys"]["older"] == n

    second = take_in(http, courier)  # the parcel after the rotation gets data keys under version 2, one per class
    per_parcel = len(set(FIELD_CLASSES.values()) | {ITEM_DESCRIPTION.name})
    assert live_data_keys(engine, tenant) == {1: n, 2: per_parcel}
    body = http.get("/api/v1/keys", headers=officer).json()
    assert body["data_keys"] == {"total": n + per_parcel, "primary": per_parcel, "older": n, "destroyed": 0,
                                 "rewrap_progress": pytest.approx(per_parcel / (n + per_parcel))}
    assert [v["data_keys"] for v in body["versions"]] == [n, per_parcel]

    steps, entries = [], []
    while True:
        r = http.post("/api/v1/keys:rewrap", json={"limit": 2}, headers=officer)
        assert r.status_code == 200, r.text
        if not r.json()["rewrapped"]:
            assert r.json()["log_index"] is None  # nothing done, nothing logged
            break
        steps.append((r.json()["rewrapped"], r.json()["data_keys"]["rewrap_progress"]))
        entries.append(r.json()["log_index"])
    assert len(steps) == math.ceil(n / 2) and sum(count for count, _ in steps) == n
    assert [p for _, p in steps] == sorted({p for _, p in steps}) and steps[-1][1] == 1.0
    assert live_data_keys(engine, tenant) == {2: n + per_parcel}

    # Nothing was rewritten: the parcel taken in before the rotation reads through the gate, the values of
    # other classes open with a keyring that never cached a key.
    assert reveal_name(http, officer, first["id"]) == reveal_name(http, officer, second["id"]) == "司马收件人"
    with db.make_sessionmaker(engine)() as s:
        fresh = Keyring(TEST_ROOT_KEY)
        assert [fresh.decrypt(db_session=s, carrier_id=tenant.carrier_id, ciphertext=ct, aad=aad)
                for aad, ct in extra] == [f"value {i}".encode() for i in range(EXTRA)]

    auditor = tenant.login(http, Role.AUDITOR)
    rotation = http.get(f"/api/v1/audit/entries/{rotated.json()['log_index']}", headers=auditor).json()["entry"]
    officer_id = str(tenant.account(Role.HQ_SECURITY).user_id)
    assert (rotation["subject"], rotation["purpose"], rotation["actor"], rotation["role"]) == (
        "keys:kek:v2", "key_rotate", officer_id, "hq_security")
    rewraps = [http.get(f"/api/v1/audit/entries/{i}", headers=auditor).json()["entry"] for i in entries]
    assert [(e["subject"], e["purpose"]) for e in rewraps] == [
        (f"keys:rewrapped:{count}:to:v2", "key_rewrap") for count, _ in steps]
    head = http.post("/api/v1/audit/tree-heads", headers=auditor)
    assert head.status_code == 201
    signing = http.get("/api/v1/keys", headers=auditor).json()["signing_keys"]
    assert {"purpose": "audit_log", "key_id": head.json()["key_id"]}.items() <= next(
        k for k in signing if k["purpose"] == "audit_log").items()
    for index in [rotated.json()["log_index"], *entries]:
        check = http.get(f"/api/v1/audit/entries/{index}/verification", headers=auditor).json()
        assert check["verified"] is True, check


def test_only_hq_security_and_the_admin_rotate_and_the_auditor_reads(
    http: httpx.Client, tenant: Tenant
) -> None:
    refused = {"courier": terminal_login(http, tenant), "station_manager": tenant.login(http, Role.STATION_MANAGER),
               "sorter": tenant.login(http, Role.SORTER), "enterprise": tenant.login(http, Role.ENTERPRISE)}
    for role, headers in refused.items():
        for method, path in (("GET", "/api/v1/keys"), ("POST", "/api/v1/keys:rotate"), ("POST", "/api/v1/keys:rewrap")):
            r = http.request(method, path, headers=headers)
            assert (r.status_code, r.json()["code"]) == (403, "role_not_allowed"), (role, path)
    auditor = tenant.login(http, Role.AUDITOR)
    assert http.get("/api/v1/keys", headers=auditor).status_code == 200
    for path in ("/api/v1/keys:rotate", "/api/v1/keys:rewrap"):
        r = http.post(path, headers=auditor)
        assert (r.status_code, r.json()["code"]) == (403, "role_not_allowed"), path
    assert http.get("/api/v1/keys").status_code == 401
    admin = tenant.login(http, Role.ADMIN)
    assert http.post("/api/v1/keys:rotate", headers=admin).json()["version"] == 2
    assert http.get("/api/v1/keys", headers=auditor).json()["primary_version"] == 2
    r = http.post("/api/v1/keys:rewrap", json={"limit": 0}, headers=admin)
    assert r.status_code == 422


def test_destroyed_data_keys_are_counted_apart_and_never_rewrapped(
    engine: Engine, keyring: Keyring, tenant: Tenant
) -> None:
    encrypt_extra(engine, keyring, tenant)
    with writing(engine) as s:
        shredded = s.scalar(select(DataKey.id).where(DataKey.carrier_id == tenant.carrier_id).limit(1))
        s.execute(update(DataKey).where(DataKey.id == shredded).values(destroyed_at=func.now()))
    officer, auditor = tenant.actor(Role.HQ_SECURITY), tenant.actor(Role.AUDITOR)
    with writing(engine) as s:
        keys.rotate(db_session=s, keyring=keyring, actor=officer)
    with writing(engine) as s:
        done = keys.rewrap(db_session=s, keyring=keyring, actor=officer, limit=100)
    assert done.count == EXTRA - 1 and done.data_keys.destroyed == 1 and done.data_keys.progress == 1.0
    with db.make_sessionmaker(engine)() as s:
        assert keys.overview(db_session=s, actor=auditor).data_keys.total == EXTRA - 1
        with pytest.raises(Forbidden):
            keys.rewrap(db_session=s, keyring=keyring, actor=auditor)


def test_the_command_line_rotates_and_rewraps_in_batches_and_logs_each(
    engine: Engine, keyring: Keyring, tenant: Tenant, database_url: str, tmp_path: Path
) -> None:
    encrypt_extra(engine, keyring, tenant)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARCELGUARD_")}
    env.update(PARCELGUARD_DATABASE_URL=database_url, PARCELGUARD_ROOT_KEY=encode_root_key(TEST_ROOT_KEY),
               PARCELGUARD_VAR_DIR=str(tmp_path), COLUMNS="200")
    runner = CliRunner()

    def run(*args: str) -> str:
        get_settings.cache_clear()
        try:
            result = runner.invoke(cli.app, ["keys", *args], env=env)
        finally:
            get_settings.cache_clear()
        assert result.exit_code == 0, (result.stdout, result.exception)
        return result.stdout

    assert "key-encryption key version 2 is primary (audit log entry" in run("rotate", "--carrier", tenant.slug)
    assert f"re-wrapped {EXTRA} data key(s)" in run("rewrap", "--carrier", tenant.slug, "--batch", "1")
    with db.make_sessionmaker(engine)() as s:
        found = audit_log.find_entries(db_session=s, carrier_id=tenant.carrier_id, limit=100)
    logged = [e.document()["entry"] for e in found if e.document()["entry"]["purpose"].startswith("key_")]
    assert [(e["purpose"], e["subject"], e["actor"], e["role"]) for e in logged] == [
        ("key_rotate", "keys:kek:v2", None, "command_line"),
        *[("key_rewrap", "keys:rewrapped:1:to:v2", None, "command_line")] * EXTRA]
    assert live_data_keys(engine, tenant) == {2: EXTRA}
