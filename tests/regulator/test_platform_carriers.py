"""Officials see the registered carriers and their keys and revoke a key with a reason, over real HTTP on both
engines: the revocation records who, when and why, once; a bad reason writes nothing; the batch intake
refuses the revoked key from then on while the carrier's other key still works."""

from __future__ import annotations

import base64
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from parcelguard.accounts import service as accounts
from parcelguard.core.auth import Role
from parcelguard.core.db import make_sessionmaker
from parcelguard.crypto import signing
from parcelguard.regulator.platform import service
from parcelguard.regulator.platform.models import CarrierKey, Official
from tests.regulator.conftest import PERSON, Carrier, register
from tests.regulator.officials import add_official, problem, send, sign_in
from tests.support import count_rows, parcelguard
from tests.tenants import Tenant, writing


def carriers(platform: str, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    answer = httpx.get(platform + "/api/v1/carriers", headers=headers)
    assert answer.status_code == 200, answer.text
    return {c["code"]: c for c in answer.json()["carriers"]}


def revoke(platform: str, headers: dict[str, str], code: str, key_id: str, body: Any) -> httpx.Response:
    return httpx.post(f"{platform}/api/v1/carriers/{code}/keys/{key_id}/revoke", json=body, headers=headers)


def key_row(engine: Engine, carrier: Carrier, key_id: str | None = None) -> CarrierKey:
    with make_sessionmaker(engine)() as session:
        return session.scalars(select(CarrierKey).where(CarrierKey.carrier_id == carrier.id,
                                                        CarrierKey.key_id == (key_id or carrier.key_id))).one()


def official(platform: str, engine: Engine) -> tuple[uuid.UUID, str, dict[str, str]]:
    username = add_official(engine)
    with make_sessionmaker(engine)() as session:
        official_id = session.scalars(select(Official.id).where(Official.username == username)).one()
    return official_id, username, sign_in(platform, username)


def second_key(engine: Engine, carrier: Carrier) -> Carrier:
    """The same carrier with a second key registered (rotation)."""
    return register(engine, code=carrier.code, carrier_id=carrier.id)


def test_an_official_sees_each_carrier_with_its_keys_and_newest_batch(
    platform: str, platform_engine: Engine, carrier: Carrier,
) -> None:
    _, _, headers = official(platform, platform_engine)
    listed = carriers(platform, headers)[carrier.code]
    assert (listed["name"], listed["carrier_id"], listed["active_keys"]) == ("测试快递", str(carrier.id), 1)
    assert listed["last_batch"] is None
    [key] = listed["keys"]
    assert key["key_id"] == carrier.key_id and key["active"] is True and key["last_batch"] is None
    assert (key["revoked_at"], key["revoked_by"], key["revoke_reason"]) == (None, None, None)

    receipt = send(platform, carrier, [carrier.record(PERSON), carrier.record(PERSON)])
    newer = second_key(platform_engine, carrier)
    listed = carriers(platform, headers)[carrier.code]
    assert listed["active_keys"] == 2
    assert [k["key_id"] for k in listed["keys"]] == [newer.key_id, carrier.key_id]  # newest in force first
    assert listed["last_batch"]["batch_id"] == str(receipt.batch_id)
    assert (listed["last_batch"]["key_id"], listed["last_batch"]["records"], listed["last_batch"]["accepted"]) == (
        carrier.key_id, 2, 2)
    old_key = listed["keys"][1]
    assert old_key["last_batch"]["batch_id"] == str(receipt.batch_id) and listed["keys"][0]["last_batch"] is None


def test_a_revocation_records_who_when_and_why_and_the_key_signs_no_batch_from_then_on(
    platform: str, platform_engine: Engine, carrier: Carrier,
) -> None:
    newer = second_key(platform_engine, carrier)
    send(platform, carrier, [carrier.record(PERSON)])
    wire = carrier.batch([carrier.record(PERSON)])  # signed before the revocation, sent after
    official_id, username, headers = official(platform, platform_engine)

    answer = revoke(platform, headers, carrier.code, carrier.key_id, {"reason": "  私钥 泄露\n（工单 KJ-7）  "})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["carrier"], body["active_keys"]) == (carrier.code, 1)
    assert body["key"]["active"] is False and body["key"]["revoke_reason"] == "私钥 泄露 （工单 KJ-7）"
    assert body["key"]["revoked_by"] == {"id": str(official_id), "username": username, "display_name": "王监管"}
    row = key_row(platform_engine, carrier)
    assert row.revoked_at is not None and row.revoked_by == official_id
    assert row.revoke_reason == "私钥 泄露 （工单 KJ-7）"

    listed = carriers(platform, headers)[carrier.code]
    assert [(k["key_id"], k["active"]) for k in listed["keys"]] == [(newer.key_id, True), (carrier.key_id, False)]
    assert listed["keys"][1]["revoked_by"]["username"] == username

    # The batch intake refuses the revoked key (one answer with an unknown one); the other key still works.
    problem(httpx.post(platform + "/api/v1/batches", json=wire), 403, "carrier_key_unknown")
    problem(httpx.post(platform + "/api/v1/batches", json=carrier.batch([carrier.record(PERSON)])), 403,
            "carrier_key_unknown")
    send(platform, newer, [newer.record(PERSON)])


@pytest.mark.parametrize("body", [{"reason": ""}, {"reason": "   "}, {"reason": "x"}, {"reason": " x \n"},
                                  {"reason": "长" * 201}],
                         ids=["empty", "blank", "one", "one-padded", "too-long"])
def test_a_bad_reason_is_422_reason_format_and_changes_nothing(
    platform: str, platform_engine: Engine, carrier: Carrier, body: dict[str, str],
) -> None:
    _, _, headers = official(platform, platform_engine)
    found = problem(revoke(platform, headers, carrier.code, carrier.key_id, body), 422, "reason_format")
    assert found["errors"][0]["pointer"] == "/reason"
    row = key_row(platform_engine, carrier)
    assert (row.revoked_at, row.revoked_by, row.revoke_reason) == (None, None, None)
    send(platform, carrier, [carrier.record(PERSON)])


def test_a_missing_reason_is_refused_and_changes_nothing(
    platform: str, platform_engine: Engine, carrier: Carrier,
) -> None:
    _, _, headers = official(platform, platform_engine)
    found = problem(revoke(platform, headers, carrier.code, carrier.key_id, {}), 422, "validation_failed")
    assert [e["pointer"] for e in found["errors"]] == ["/reason"]
    assert key_row(platform_engine, carrier).revoked_at is None


def test_a_200_character_reason_is_kept_whole(platform: str, platform_engine: Engine, carrier: Carrier) -> None:
    _, _, headers = official(platform, platform_engine)
    assert revoke(platform, headers, carrier.code, carrier.key_id, {"reason": "长" * 200}).status_code == 200
    assert key_row(platform_engine, carrier).revoke_reason == "长" * 200


def test_an_unknown_carrier_or_key_is_404_with_its_own_code(
    platform: str, platform_engine: Engine, carrier: Carrier, other_carrier: Carrier,
) -> None:
    _, _, headers = official(platform, platform_engine)
    reason = {"reason": "核查"}
    problem(revoke(platform, headers, f"c-{uuid.uuid4().hex[:10]}", carrier.key_id, reason), 404, "carrier_unknown")
    problem(revoke(platform, headers, carrier.code, signing.key_id(signing.generate()[1]), reason), 404,
            "carrier_key_unknown")
    # another carrier's key, named under this carrier: no such key for this carrier, and neither is revoked
    problem(revoke(platform, headers, carrier.code, other_carrier.key_id, reason), 404, "carrier_key_unknown")
    assert key_row(platform_engine, other_carrier).revoked_at is None


def test_revoking_a_revoked_key_is_409_and_the_first_revocation_stays(
    platform: str, platform_engine: Engine, carrier: Carrier,
) -> None:
    first_id, _, first = official(platform, platform_engine)
    _, _, second = official(platform, platform_engine)
    assert revoke(platform, first, carrier.code, carrier.key_id, {"reason": "私钥泄露"}).status_code == 200
    before = key_row(platform_engine, carrier)
    problem(revoke(platform, second, carrier.code, carrier.key_id, {"reason": "重复操作"}), 409, "carrier_key_revoked")
    after = key_row(platform_engine, carrier)
    assert (after.revoked_at, after.revoked_by, after.revoke_reason) == (before.revoked_at, first_id, "私钥泄露")


def test_two_officials_revoking_at_once_write_one_revocation(
    platform: str, platform_engine: Engine, carrier: Carrier,
) -> None:
    heads = [official(platform, platform_engine)[2] for _ in range(2)]
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda h: revoke(platform, h, carrier.code, carrier.key_id, {"reason": "并发吊销"}),
                                heads))
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]


@pytest.mark.parametrize(("method", "path"), [("GET", "/api/v1/carriers"),
                                              ("POST", "/api/v1/carriers/demo/keys/0123456789abcdef/revoke")])
def test_no_token_and_a_carrier_staff_token_are_refused(
    platform: str, platform_engine: Engine, carrier: Carrier, tenant: Tenant, method: str, path: str,
) -> None:
    """The platform's officials only: a token the carrier platform issued to its HQ security officer means
    nothing here."""
    account = tenant.account(Role.HQ_SECURITY)
    with writing(tenant.engine) as s:
        staff = accounts.sign_in(db_session=s, username=account.username, password=account.password,
                                 terminal_id=None, token_ttl=timedelta(hours=1), max_failures=5,
                                 lockout=timedelta(minutes=15)).token
    path = path.replace("demo", carrier.code).replace("0123456789abcdef", carrier.key_id)
    body = {"reason": "越权尝试"} if method == "POST" else None
    problem(httpx.request(method, platform + path, json=body), 401, "unauthenticated")
    problem(httpx.request(method, platform + path, json=body, headers={"Authorization": f"Bearer {staff}"}), 401,
            "token_invalid")
    assert key_row(platform_engine, carrier).revoked_at is None


def test_the_operator_revokes_at_the_command_line_with_a_reason_and_no_official(env: dict[str, str]) -> None:
    assert parcelguard("regulator", "init", env=env).returncode == 0
    _, public = signing.generate()
    entry = {"code": "demo", "carrier_id": str(uuid.uuid4()), "name": "演示快递", "key_id": signing.key_id(public),
             "public_key": base64.b64encode(public).decode()}
    assert parcelguard("regulator", "carriers", "add", "-", env=env, stdin=json.dumps(entry)).returncode == 0
    bad = parcelguard("regulator", "carriers", "revoke-key", "--carrier", "demo", entry["key_id"], "--reason", "x",
                      env=env)
    assert bad.returncode == 1 and "reason" in bad.stderr
    url = env["PARCELGUARD_REGULATOR_DATABASE_URL"]
    assert count_rows(url, CarrierKey, CarrierKey.revoked_at.is_not(None)) == 0
    done = parcelguard("regulator", "carriers", "revoke-key", "--carrier", "demo", entry["key_id"], "--reason",
                       "密钥轮换", env=env)
    assert done.returncode == 0 and "revoked" in done.stdout, done.stderr
    again = parcelguard("regulator", "carriers", "revoke-key", "--carrier", "demo", entry["key_id"], env=env)
    assert again.returncode == 0 and "was revoked already" in again.stdout
    assert count_rows(url, CarrierKey, CarrierKey.revoke_reason == "密钥轮换", CarrierKey.revoked_by.is_(None)) == 1
    unknown = parcelguard("regulator", "carriers", "revoke-key", "--carrier", "nobody", entry["key_id"], env=env)
    assert unknown.returncode == 1


def test_the_service_revocation_keeps_its_old_answers(platform_engine: Engine, carrier: Carrier) -> None:
    """`service.revoke_key` (the command line's): True, then False; the record names no official."""
    with make_sessionmaker(platform_engine)() as session, session.begin():
        assert service.revoke_key(db_session=session, code=carrier.code, key_id=carrier.key_id) is True
    with make_sessionmaker(platform_engine)() as session, session.begin():
        assert service.revoke_key(db_session=session, code=carrier.code, key_id=carrier.key_id) is False
    row = key_row(platform_engine, carrier)
    assert row.revoked_at is not None and (row.revoked_by, row.revoke_reason) == (None, None)
