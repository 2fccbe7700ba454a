"""The blacklist over HTTP, on both engines: a signed report lists a person, a signed query answers listed or
not and nothing more, every query is logged, bad requests store nothing, and an appeal removes an entry
without deleting it."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Engine, func, select

from parcelguard.blacklist.platform import appeals, service
from parcelguard.blacklist.platform.keys import BlacklistKeys
from parcelguard.blacklist.platform.models import Appeal, Entry, QueryLogEntry
from parcelguard.core import db
from parcelguard.core.clock import now
from parcelguard.core.errors import Conflict
from parcelguard.crypto import signing
from tests.blacklist.conftest import ReportingCarrier, id_number, person_of


def count(engine: Engine, model: type, *where: object) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_a_reported_person_is_listed_and_the_answer_says_nothing_else(
    blacklist: str, blacklist_engine: Engine, blacklist_keys: BlacklistKeys, carrier: ReportingCarrier,
    other_carrier: ReportingCarrier,
) -> None:
    person, stranger = person_of(id_number()), person_of(id_number())
    report = carrier.report(person, evidence="CASE-2026-0042")
    r = httpx.post(f"{blacklist}/api/v1/reports", json=report)
    assert r.status_code == 201, r.text
    assert r.json()["entry_id"] == report["entry_id"] and r.json()["status"] == "listed"
    again = httpx.post(f"{blacklist}/api/v1/reports", json=report)  # sent again: answered as the first time
    assert again.status_code == 200 and again.json() == r.json()

    for asking, who in ((other_carrier, person), (carrier, person), (other_carrier, stranger)):
        answer = httpx.post(f"{blacklist}/api/v1/queries", json=asking.query(who))
        assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
        assert answer.json() == {"listed": who == person}  # never who reported, why, or when
        for secret in (carrier.code, str(carrier.carrier_id), "sold_user_data", "CASE-2026-0042",
                       report["entry_id"], report["person"]):
            assert secret not in answer.text

    with blacklist_engine.connect() as conn:
        entry = conn.execute(select(Entry).where(Entry.entry_id == uuid.UUID(report["entry_id"]))).one()
        logged = conn.execute(select(QueryLogEntry).where(QueryLogEntry.carrier_id == other_carrier.carrier_id)
                              .order_by(QueryLogEntry.at)).all()
    # stored with the carrier's signature, under the platform's keyed hash of what the carrier sent
    assert entry.carrier_id == carrier.carrier_id and entry.key_id == carrier.key_id
    assert entry.person_index == blacklist_keys.person_index(person) != person
    assert len(entry.signature) == 64 and entry.status == "listed"
    # every query logged: carrier, time, a keyed digest of the person (per carrier), the answer
    assert [(q.listed, q.person_digest) for q in logged] == [
        (True, blacklist_keys.query_digest(other_carrier.carrier_id, person)),
        (False, blacklist_keys.query_digest(other_carrier.carrier_id, stranger))]
    assert blacklist_keys.query_digest(carrier.carrier_id, person) != logged[0].person_digest
    with db.make_sessionmaker(blacklist_engine)() as s:
        assert appeals.entry_signed(db_session=s, keys=blacklist_keys, entry_id=entry.entry_id, person=person)
        assert not appeals.entry_signed(db_session=s, keys=blacklist_keys, entry_id=entry.entry_id, person=stranger)


def test_an_unregistered_carrier_a_forged_signature_a_revoked_key_and_a_replay_are_refused_and_store_nothing(
    blacklist: str, blacklist_engine: Engine, carrier: ReportingCarrier, other_carrier: ReportingCarrier,
) -> None:
    person = person_of(id_number())
    forged_seed, _ = signing.generate()
    stranger = ReportingCarrier(code=f"c-{uuid.uuid4().hex[:10]}", carrier_id=uuid.uuid4(), seed=forged_seed,
                                key_id=signing.key_id(signing.public_of(forged_seed)))
    tampered = carrier.report(person)
    tampered["reason_code"] = "waybill_theft"
    cases = [
        (stranger.report(person), 403, "carrier_key_unknown"),  # not registered
        (carrier.report(person, seed=forged_seed), 403, "request_signature"),  # registered code, other key
        (tampered, 403, "request_signature"),  # altered after signing
        ({**carrier.report(person), "reported_at": "2020-01-01T00:00:00.000000Z"}, 403, "request_signature"),
        ({**carrier.report(person), "person": "AAAA"}, 422, "person_format"),
        ({**carrier.report(person), "evidence_ref": "ID-11010519491231002X"}, 422, "evidence_ref_personal"),
        ({**carrier.report(person), "reason_code": "gossip"}, 422, "reason_code_unknown"),
        ({**carrier.report(person), "extra": 1}, 422, "member_unknown"),
        ([], 422, "not_an_object"),
    ]
    for wire, status, code in cases:
        r = httpx.post(f"{blacklist}/api/v1/reports", json=wire)
        assert (r.status_code, r.json()["code"]) == (status, code), r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert "11010519491231002X" not in r.text
    stale = carrier.query(person, sent_at=now() - timedelta(minutes=10))
    assert httpx.post(f"{blacklist}/api/v1/queries", json=stale).json()["code"] == "request_stale"
    assert httpx.post(f"{blacklist}/api/v1/queries", json=stranger.query(person)).json()["code"] == \
        "carrier_key_unknown"
    query = carrier.query(person)
    assert httpx.post(f"{blacklist}/api/v1/queries", json=query).status_code == 200
    replayed = httpx.post(f"{blacklist}/api/v1/queries", json=query)
    assert (replayed.status_code, replayed.json()["code"]) == (409, "query_replayed")
    mine = carrier.report(person)
    clash = other_carrier.report(person_of(id_number()), entry_id=uuid.UUID(mine["entry_id"]))
    assert httpx.post(f"{blacklist}/api/v1/reports", json=mine).status_code == 201
    conflict = httpx.post(f"{blacklist}/api/v1/reports", json=clash)  # another carrier's, under the same id
    assert (conflict.status_code, conflict.json()["code"]) == (409, "entry_conflict")

    with db.make_sessionmaker(blacklist_engine)() as s, s.begin():
        assert service.revoke_key(db_session=s, code=carrier.code, key_id=carrier.key_id, reason="key leaked")
    after = httpx.post(f"{blacklist}/api/v1/reports", json=carrier.report(person))
    assert (after.status_code, after.json()["code"]) == (403, "carrier_key_unknown")
    with blacklist_engine.connect() as conn:  # only `mine`, as its carrier sent it
        stored = conn.execute(select(Entry.entry_id, Entry.carrier_id).where(Entry.carrier_id.in_(
            [carrier.carrier_id, other_carrier.carrier_id, stranger.carrier_id]))).all()
    assert stored == [(uuid.UUID(mine["entry_id"]), carrier.carrier_id)]
    assert count(blacklist_engine, QueryLogEntry, QueryLogEntry.carrier_id == carrier.carrier_id) == 1


def test_an_appeal_removes_an_entry_and_keeps_its_record(
    blacklist: str, blacklist_engine: Engine, blacklist_keys: BlacklistKeys, carrier: ReportingCarrier,
    other_carrier: ReportingCarrier,
) -> None:
    person = person_of(id_number())
    first, second = carrier.report(person), other_carrier.report(person, reason="leaked_user_data")
    for report in (first, second):
        assert httpx.post(f"{blacklist}/api/v1/reports", json=report).status_code == 201

    def listed() -> bool:
        answer = httpx.post(f"{blacklist}/api/v1/queries", json=other_carrier.query(person))
        assert answer.status_code == 200
        return bool(answer.json()["listed"])

    sessions = db.make_sessionmaker(blacklist_engine)
    entry_ids = [uuid.UUID(first["entry_id"]), uuid.UUID(second["entry_id"])]
    with sessions() as s, s.begin():
        upheld = appeals.open_appeal(db_session=s, entry_id=entry_ids[0], grounds="Says the case was closed.")
        with pytest.raises(Conflict) as twice:
            appeals.open_appeal(db_session=s, entry_id=entry_ids[0], grounds="Again.")
        assert twice.value.code == "appeal_open"
        appeals.decide(db_session=s, appeal_id=upheld.appeal_id, decision="upheld", reason="Evidence stands.")
    assert listed()
    with sessions() as s, s.begin():
        for entry_id in entry_ids:
            opened = appeals.open_appeal(db_session=s, entry_id=entry_id, grounds="Court overturned the finding.",
                                         via_carrier=other_carrier.code)
            done = appeals.decide(db_session=s, appeal_id=opened.appeal_id, decision="removed",
                                  reason="Court judgment 2026-xyz.")
            assert done.status == "removed" and done.via_carrier == other_carrier.code
            with pytest.raises(Conflict) as decided:
                appeals.decide(db_session=s, appeal_id=opened.appeal_id, decision="upheld", reason="Changed mind.")
            assert decided.value.code == "appeal_decided"
    assert not listed()  # both entries removed: listed no more

    with sessions() as s:
        kept = appeals.find_entries(db_session=s, keys=blacklist_keys, person=person)
        assert [(e.entry_id, e.status) for e in kept] == [(i, "removed") for i in entry_ids]
        assert all(e.removed_at is not None and e.removed_by_appeal is not None for e in kept)
        # the record stays attributable: each signature still verifies as its carrier's
        assert all(appeals.entry_signed(db_session=s, keys=blacklist_keys, entry_id=i, person=person)
                   for i in entry_ids)
    assert count(blacklist_engine, Appeal, Appeal.entry_id.in_(entry_ids)) == 3
    # a report sent again after its removal is not listed anew: its entry keeps the appeal's decision
    again = httpx.post(f"{blacklist}/api/v1/reports", json=first)
    assert again.status_code == 200 and again.json()["status"] == "removed" and not listed()


def test_readyz_answers_ready_at_the_blacklists_own_head(blacklist: str) -> None:
    r = httpx.get(f"{blacklist}/readyz")
    assert r.status_code == 200 and r.json()["revision"] == "blacklist_0001"
    assert httpx.get(f"{blacklist}/openapi.json").json()["info"]["title"] == "parcelguard industry blacklist"
