"""Officials look records up by waybill number and by document number, over real HTTP on both engines;
every lookup is in the lookup log before the answer leaves, the log holds no number, and an edited or
deleted entry shows."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, delete, select, update

from parcelguard.core import db
from parcelguard.core.auth import Actor, Role
from parcelguard.core.clock import now
from parcelguard.core.config import RegulatorSettings
from parcelguard.regulator.platform import lookup_log, service
from parcelguard.regulator.platform.keys import PlatformKeys
from parcelguard.regulator.platform.migrations import MIGRATIONS_DIR
from parcelguard.regulator.platform.models import LookupLogEntry, LookupLogHead
from parcelguard.web.regulator_app import create_regulator_app
from tests.regulator.conftest import ORGANISATION, Carrier, platform_settings, register
from tests.regulator.officials import (
    add_official,
    legacy_form,
    person,
    problem,
    send,
    sign_in,
    signed_in,
    waybill,
)
from tests.servers import app_in_thread


def by_waybill(platform: str, headers: dict[str, str], number: str) -> httpx.Response:
    return httpx.get(platform + "/api/v1/records", params={"waybill_no": number}, headers=headers)


def by_document(platform: str, headers: dict[str, str], number: str, doc_type: str | None = None) -> httpx.Response:
    body = {"number": number} if doc_type is None else {"number": number, "doc_type": doc_type}
    return httpx.post(platform + "/api/v1/records:lookup", json=body, headers=headers)


def found(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body: dict[str, Any] = answer.json()
    return body


def entry(platform: str, headers: dict[str, str], seq: int) -> dict[str, Any]:
    entries = httpx.get(platform + "/api/v1/lookups", params={"before": seq + 1, "limit": 1},
                        headers=headers).json()["entries"]
    assert entries and entries[0]["seq"] == seq
    result: dict[str, Any] = entries[0]
    return result


def test_a_lookup_by_waybill_number_finds_the_record_and_opens_it(
    platform: str, platform_engine: Engine, carrier: Carrier,
) -> None:
    sender, number = person(), waybill()
    record = dataclasses.replace(carrier.record(sender), waybill_no=number, station="ST-LK", region="440305")
    receipt = send(platform, carrier, [record])
    headers = signed_in(platform, platform_engine)

    typed = f"{number[:2].lower()} {number[2:8]}-{number[8:]}"  # lower case, a space and a hyphen
    body = found(by_waybill(platform, headers, typed))
    assert body["found"] == 1 and body["truncated"] is False
    assert body["records"] == [{
        "carrier": carrier.code, "record_id": str(record.record_id), "waybill_no": number, "station": "ST-LK",
        "region": "440305", "doc_type": "resident_id",
        "taken_at": record.taken_at.isoformat().replace("+00:00", "Z"),
        "received_at": receipt.received_at.isoformat().replace("+00:00", "Z"),
        "payload": {**sender, "responsible": None},
    }]
    logged = entry(platform, headers, body["lookup"])
    assert (logged["kind"], logged["found"], logged["doc_type"]) == ("waybill", 1, None)


def test_a_lookup_by_document_number_finds_the_record_however_the_number_is_typed(
    platform: str, platform_engine: Engine, carrier: Carrier, other_carrier: Carrier,
) -> None:
    sender = person(ending_in_x=True)
    number = sender["doc_number"]
    mine = [carrier.record(sender), other_carrier.record(sender)]
    send(platform, carrier, mine[:1])
    send(platform, other_carrier, mine[1:])
    headers = signed_in(platform, platform_engine)
    seqs = []
    for typed, doc_type in ((number, None), (number.lower(), None), (f"{number[:6]} {number[6:14]} {number[14:]}", None),
                            (legacy_form(number), None), (number.lower(), "resident_id"),
                            (number, "temporary_resident_id")):
        body = found(by_document(platform, headers, typed, doc_type))
        assert body["found"] == 2, typed
        assert {r["record_id"] for r in body["records"]} == {str(r.record_id) for r in mine}
        assert {r["carrier"] for r in body["records"]} == {carrier.code, other_carrier.code}
        assert all(r["payload"] == {**sender, "responsible": None} for r in body["records"])
        seqs.append(body["lookup"])
    digests = {entry(platform, headers, seq)["query_digest"] for seq in seqs}
    assert len(digests) == 1  # one person is one digest in the log, however the number was typed


def test_a_lookup_finds_an_organisations_responsible_person(
    platform: str, platform_engine: Engine, carrier: Carrier,
) -> None:
    boss = person()
    organisation = {**ORGANISATION, "responsible": boss}
    record = carrier.record(organisation)
    send(platform, carrier, [record])
    body = found(by_document(platform, signed_in(platform, platform_engine), boss["doc_number"]))
    assert [r["record_id"] for r in body["records"]] == [str(record.record_id)]
    assert body["records"][0]["payload"] == organisation


def test_a_lookup_that_finds_nothing_is_logged_too(platform: str, platform_engine: Engine) -> None:
    username = add_official(platform_engine)
    headers = sign_in(platform, username)
    nobody = person()["doc_number"]
    for answer, kind in ((by_document(platform, headers, nobody), "document"),
                         (by_waybill(platform, headers, waybill()), "waybill")):
        body = found(answer)
        assert (body["found"], body["records"]) == (0, [])
        logged = entry(platform, headers, body["lookup"])
        assert (logged["kind"], logged["found"], logged["username"]) == (kind, 0, username)
        assert logged["request_id"] == answer.headers["x-request-id"]


def test_the_lookup_log_holds_no_number_in_clear(platform: str, platform_engine: Engine, carrier: Carrier) -> None:
    sender, number = person(ending_in_x=True), waybill()
    send(platform, carrier, [dataclasses.replace(carrier.record(sender), waybill_no=number)])
    headers = signed_in(platform, platform_engine)
    doc = sender["doc_number"]
    found(by_document(platform, headers, doc.lower()))
    found(by_document(platform, headers, legacy_form(doc)))
    found(by_waybill(platform, headers, number))
    needles = [doc, doc.lower(), legacy_form(doc), number, doc[-8:], number[-8:], sender["name"]]
    with platform_engine.connect() as conn:
        for row in conn.execute(select(LookupLogEntry)):
            for value in row:
                raw = value if isinstance(value, bytes) else str(value).encode()
                assert not any(n.encode() in raw for n in needles), row
    listed = httpx.get(platform + "/api/v1/lookups", params={"limit": 500}, headers=headers).text
    assert not any(n in listed for n in needles)


def test_a_malformed_lookup_is_422_and_names_no_number(platform: str, platform_engine: Engine) -> None:
    headers = signed_in(platform, platform_engine)
    number = person()["doc_number"]
    body = problem(by_document(platform, headers, number, "library_card"), 422, "doc_type_unknown")
    assert number not in json.dumps(body)
    problem(httpx.post(platform + "/api/v1/records:lookup", json={"number": number, "extra": 1}, headers=headers),
            422, "validation_failed")
    problem(by_document(platform, headers, "   "), 422, "number_format")
    problem(by_waybill(platform, headers, "A" * 21), 422, "waybill_format")


def test_lookups_at_once_are_appended_one_after_another(
    platform: str, platform_engine: Engine, platform_keys: PlatformKeys,
) -> None:
    headers = signed_in(platform, platform_engine)
    seqs: list[int] = []

    def look() -> None:
        for _ in range(5):
            seqs.append(found(by_waybill(platform, headers, waybill()))["lookup"])

    threads = [threading.Thread(target=look) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(seqs)) == 30
    with db.make_sessionmaker(platform_engine)() as session:
        report = lookup_log.verify(db_session=session, keys=platform_keys)
    assert report.ok, report.line()
    assert report.size > max(seqs)


# -- tampering, on a platform database of its own -------------------------------------------------------

OFFICIAL = Actor(user_id=uuid.uuid4(), username="inspector", role=Role.REGULATOR, carrier_id=None, station_id=None,
                 token_id=uuid.uuid4())


@pytest.fixture
def own_log(fresh_url: str, platform_keys: PlatformKeys) -> Iterator[Engine]:
    """A platform database with a log of five lookups."""
    db.upgrade(fresh_url, script_location=MIGRATIONS_DIR)
    engine = db.make_engine(fresh_url)
    for i in range(5):
        with db.make_sessionmaker(engine)() as session, session.begin():
            if i % 2:
                service.lookup_by_waybill(db_session=session, keys=platform_keys, actor=OFFICIAL, waybill_no=waybill())
            else:
                service.lookup_by_document(db_session=session, keys=platform_keys, actor=OFFICIAL,
                                           number=person()["doc_number"])
    yield engine
    engine.dispose()


def verify(engine: Engine, keys: PlatformKeys) -> lookup_log.Verification:
    with db.make_sessionmaker(engine)() as session:
        return lookup_log.verify(db_session=session, keys=keys)


def test_an_intact_log_verifies(own_log: Engine, platform_keys: PlatformKeys) -> None:
    report = verify(own_log, platform_keys)
    assert report.ok and report.size == 5 and report.line() == "ok: 5 lookup(s), chain and signed head intact"


@pytest.mark.parametrize("change", [{"found": 7}, {"username": "someone-else"}, {"kind": "document"},
                                    {"query_digest": bytes(32)}])
def test_an_edited_entry_is_detected(own_log: Engine, platform_keys: PlatformKeys, change: dict[str, Any]) -> None:
    with own_log.begin() as conn:
        conn.execute(update(LookupLogEntry).where(LookupLogEntry.seq == 1).values(**change))
    report = verify(own_log, platform_keys)
    assert [(p.seq, p.code) for p in report.problems] == [(1, "entry_altered")]
    assert report.line().startswith("DAMAGED: entry_altered at 1")


def test_an_entry_edited_and_given_a_fresh_hash_is_detected_at_the_next(
    own_log: Engine, platform_keys: PlatformKeys,
) -> None:
    with db.make_sessionmaker(own_log)() as session, session.begin():
        rows = session.scalars(select(LookupLogEntry).order_by(LookupLogEntry.seq)).all()
        rows[2].found = 99
        rows[2].entry_hash = lookup_log.chain(rows[1].entry_hash, lookup_log.entry_content(rows[2]))
    assert [(p.seq, p.code) for p in verify(own_log, platform_keys).problems] == [(3, "entry_altered")]


def test_a_deleted_entry_is_detected(own_log: Engine, platform_keys: PlatformKeys) -> None:
    with own_log.begin() as conn:
        conn.execute(delete(LookupLogEntry).where(LookupLogEntry.seq == 2))
    assert [(p.seq, p.code) for p in verify(own_log, platform_keys).problems] == [(2, "entry_missing")]


def test_deleting_the_newest_entries_is_detected_by_the_signed_head(
    own_log: Engine, platform_keys: PlatformKeys,
) -> None:
    with own_log.begin() as conn:
        conn.execute(delete(LookupLogEntry).where(LookupLogEntry.seq >= 3))
    assert [p.code for p in verify(own_log, platform_keys).problems] == ["head_mismatch"]
    # ... and a head moved back to match is not the platform's signature
    with own_log.begin() as conn:
        last = conn.execute(select(LookupLogEntry.entry_hash).where(LookupLogEntry.seq == 2)).scalar_one()
        conn.execute(update(LookupLogHead).values(size=3, head_hash=last))
    assert [p.code for p in verify(own_log, platform_keys).problems] == ["head_signature"]


def test_a_lookup_whose_log_entry_cannot_be_written_answers_nothing(fresh_url: str) -> None:
    """A stray row holds the next sequence number: the append fails, so the lookup fails, and the record
    it would have opened is not in the answer."""
    db.upgrade(fresh_url, script_location=MIGRATIONS_DIR)
    engine = db.make_engine(fresh_url)
    try:
        carrier = register(engine)
        sender, number = person(), waybill()
        with app_in_thread(create_regulator_app(platform_settings(fresh_url))) as url:
            send(url, carrier, [dataclasses.replace(carrier.record(sender), waybill_no=number)])
            headers = signed_in(url, engine)
            assert found(by_waybill(url, headers, number))["lookup"] == 0
            with engine.begin() as conn:
                conn.execute(LookupLogEntry.__table__.insert().values(
                    seq=1, at=now(), official_id=uuid.uuid4(), username="stray", kind="waybill",
                    query_digest=bytes(32), found=0, entry_hash=bytes(32)))
            for answer in (by_waybill(url, headers, number), by_document(url, headers, sender["doc_number"])):
                assert answer.status_code == 500
                assert sender["doc_number"] not in answer.text and sender["name"] not in answer.text
        with engine.connect() as conn:
            assert conn.execute(select(LookupLogHead.size)).scalar_one() == 1  # nothing else was written
    finally:
        engine.dispose()


# -- `parcelguard regulator lookups verify`, as an operator runs it -----------------------------------------

def test_lookups_verify_says_ok_then_damaged(tmp_path: Path, fresh_url: str) -> None:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PARCELGUARD_")},
           "PARCELGUARD_VAR_DIR": str(tmp_path / "var"), "PARCELGUARD_REGULATOR_DATABASE_URL": fresh_url}

    def parcelguard(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "parcelguard", *args], check=False, env=env, input=stdin,
                              capture_output=True, text=True, timeout=120)

    assert parcelguard("regulator", "init").returncode == 0
    assert parcelguard("regulator", "users", "add", "inspector", "--display-name", "检查员", "--password-stdin",
                       stdin="inspector-password\n").returncode == 0
    settings = RegulatorSettings(var_dir=tmp_path / "var", database_url=fresh_url)
    with app_in_thread(create_regulator_app(settings)) as url:
        headers = sign_in(url, "inspector", "inspector-password")
        for _ in range(3):
            found(by_waybill(url, headers, waybill()))
    ok = parcelguard("regulator", "lookups", "verify")
    assert ok.returncode == 0 and ok.stdout.strip() == "ok: 3 lookup(s), chain and signed head intact", ok.stderr
    engine = db.make_engine(fresh_url)
    try:
        with engine.begin() as conn:
            conn.execute(update(LookupLogEntry).where(LookupLogEntry.seq == 0).values(found=5))
    finally:
        engine.dispose()
    damaged = parcelguard("regulator", "lookups", "verify")
    assert damaged.returncode == 1 and damaged.stdout.strip() == "DAMAGED: entry_altered at 0"


def test_a_stated_purpose_is_chained_into_the_lookup_log_and_a_bad_one_looks_nothing_up(
    platform: str, platform_engine: Engine, platform_keys: PlatformKeys, carrier: Carrier,
) -> None:
    number = waybill()
    send(platform, carrier, [dataclasses.replace(carrier.record(person()), waybill_no=number)])
    headers = signed_in(platform, platform_engine)
    answer = found(httpx.get(platform + "/api/v1/records", params={"waybill_no": number, "purpose": "案件 JC-1 核查"},
                             headers=headers))
    assert entry(platform, headers, answer["lookup"])["purpose"] == "案件 JC-1 核查"
    by_number = httpx.post(platform + "/api/v1/records:lookup", headers=headers,
                           json={"number": person()["doc_number"], "purpose": "  执法   调查  "})
    assert entry(platform, headers, found(by_number)["lookup"])["purpose"] == "执法 调查"  # spaces folded
    with db.make_sessionmaker(platform_engine)() as s:
        size = lookup_log.head(db_session=s).size
    refused = httpx.get(platform + "/api/v1/records", params={"waybill_no": number, "purpose": "x"}, headers=headers)
    assert (refused.status_code, refused.json()["code"]) == (422, "purpose_format")
    with db.make_sessionmaker(platform_engine)() as s:
        assert lookup_log.head(db_session=s).size == size  # nothing looked up, nothing logged
        assert lookup_log.verify(db_session=s, keys=platform_keys).ok  # with and without purposes, one chain
