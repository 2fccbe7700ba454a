"""The regulator's platform over real HTTP: signed batches in, records opened and stored encrypted,
signed receipts out; idempotent; every refusal stores nothing."""

from __future__ import annotations

import base64
import copy
import dataclasses
import json
import threading
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select, text

from parcelguard.core import db
from parcelguard.crypto import signing
from parcelguard.crypto.types import DecryptionFailed
from parcelguard.regulator import protocol
from parcelguard.regulator.platform import partitions, record_keys, service
from parcelguard.regulator.platform.keys import MONTH_FORMAT, PlatformKeys, index_form
from parcelguard.regulator.platform.models import PlatformBase, ReceivedBatch, ReceivedRecord
from tests.regulator.conftest import (
    ORGANISATION,
    PERSON,
    SEAL_CONTEXT,
    TEST_PLATFORM_ROOT_KEY,
    TEST_RECEIPT_SEED,
    Carrier,
)
from tests.servers import TEST_REGULATOR_PRIVATE

CLEAR = [PERSON["doc_number"], PERSON["name"], ORGANISATION["responsible"]["doc_number"],  # type: ignore[index]
         ORGANISATION["responsible"]["name"], "1101051949123100"]  # type: ignore[index]


def post(platform: str, wire: Any) -> httpx.Response:
    return httpx.post(platform + "/api/v1/batches", json=wire, timeout=60)


def receipt_of(platform: str, response: httpx.Response) -> protocol.Receipt:
    """The receipt in `response`, checked against the key the platform publishes."""
    assert response.status_code == 200, response.text
    published = httpx.get(platform + "/api/v1/receipt-keys").json()["keys"]
    keys = {key_id: base64.b64decode(public) for key_id, public in published.items()}
    receipt, signature = protocol.parse_receipt(response.json())
    protocol.verify_receipt(receipt, signature, keys)
    return receipt


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code and body["status"] == status
    return body


def stored(engine: Engine, carrier: Carrier) -> dict[uuid.UUID, dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(ReceivedRecord).where(ReceivedRecord.carrier_id == carrier.id)).mappings()
        return {row["record_id"]: dict(row) for row in rows}


def batches(engine: Engine, carrier: Carrier) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(ReceivedBatch)
                            .where(ReceivedBatch.carrier_id == carrier.id)).scalar_one()


# -- accepted -----------------------------------------------------------------------------------------

def test_a_signed_batch_is_accepted_stored_encrypted_and_answered_with_a_receipt_that_verifies(
    platform: str, platform_engine: Engine, platform_keys: PlatformKeys, carrier: Carrier,
) -> None:
    registration = uuid.uuid4()
    agreement = uuid.uuid4()
    records = [carrier.record(PERSON),
               carrier.record(PERSON, context=f"{SEAL_CONTEXT}|{carrier.id}|registration:{registration}"),
               carrier.record(ORGANISATION, context=f"{SEAL_CONTEXT}|{carrier.id}|agreement:{agreement}")]
    wire = carrier.batch(records)
    receipt = receipt_of(platform, post(platform, wire))

    assert receipt.carrier == carrier.code and str(receipt.batch_id) == wire["batch_id"]
    assert receipt.accepted == tuple(r.record_id for r in records) and receipt.rejected == ()
    assert receipt.key_id == signing.key_id(signing.public_of(TEST_RECEIPT_SEED))
    rows = stored(platform_engine, carrier)
    assert set(rows) == {r.record_id for r in records}
    for record in records:
        row = rows[record.record_id]
        assert (row["waybill_no"], row["station"], row["region"], row["doc_type"], row["taken_at"]) == (
            record.waybill_no, record.station, record.region, record.doc_type, record.taken_at)
        assert row["batch_id"] == receipt.batch_id
        assert row["payload"][0] == MONTH_FORMAT  # under the month's record key (issue 15)
        with db.make_sessionmaker(platform_engine)() as s:
            payload = json.loads(platform_keys.decrypt_record(carrier.id, record.record_id, row["payload"],
                                                              month_key=record_keys.reader(db_session=s,
                                                                                           keys=platform_keys)))
        assert payload == (ORGANISATION if record.doc_type == "uscc" else PERSON)
        assert (row["responsible_index"] is not None) == (record.doc_type == "uscc")
    with platform_engine.connect() as conn:
        batch = conn.execute(select(ReceivedBatch).where(ReceivedBatch.carrier_id == carrier.id)).mappings().one()
    assert (batch["record_count"], batch["accepted_count"], batch["key_id"]) == (3, 3, carrier.key_id)


def test_the_platform_database_holds_no_document_number_or_name_in_clear(
    platform: str, platform_engine: Engine, carrier: Carrier,
) -> None:
    receipt_of(platform, post(platform, carrier.batch([carrier.record(PERSON), carrier.record(ORGANISATION)])))
    assert len(stored(platform_engine, carrier)) == 2
    needles = [n.encode() for n in CLEAR]
    with platform_engine.connect() as conn:
        for table in PlatformBase.metadata.sorted_tables:
            for row in conn.execute(select(table)):
                for value in row:
                    raw = value if isinstance(value, bytes) else str(value).encode()
                    assert not any(n in raw for n in needles), f"{table.name} holds personal data in clear"


def test_a_document_is_found_by_its_number_however_it_was_typed(
    platform: str, platform_engine: Engine, platform_keys: PlatformKeys, carrier: Carrier,
) -> None:
    person, organisation = carrier.record(PERSON), carrier.record(ORGANISATION)
    receipt_of(platform, post(platform, carrier.batch([person, organisation])))
    mine = {person.record_id, organisation.record_id}
    with platform_engine.connect() as conn:
        from sqlalchemy.orm import Session

        session = Session(bind=conn)

        def found(number: str, doc_type: str | None = None) -> set[uuid.UUID]:
            hits = service.find_by_document(db_session=session, keys=platform_keys, number=number, doc_type=doc_type)
            return {record_id for carrier_id, record_id in hits if carrier_id == carrier.id} & mine

        # lower-case check character, spaces, full-width digits, the 15-digit first-generation form
        for typed in ("11010519491231002x", "110105 19491231 002X", "１１０１０５１９４９１２３１００２Ｘ", "110105491231002"):
            assert found(typed) == {person.record_id}, typed
        assert found("11010519491231002X", "temporary_resident_id") == {person.record_id}  # one citizen number
        assert found("110101199003070011") == {organisation.record_id}  # the responsible person
        assert found("91110105MA01C3XR78", "uscc") == {organisation.record_id}
        assert found("110101199003070029") == set()


# -- idempotent ---------------------------------------------------------------------------------------

def test_the_same_batch_again_stores_nothing_new_and_names_the_same_ids(
    platform: str, platform_engine: Engine, carrier: Carrier,
) -> None:
    wire = carrier.batch([carrier.record(PERSON), carrier.record(ORGANISATION), carrier.record(b"not json")])
    first = receipt_of(platform, post(platform, wire))
    before = stored(platform_engine, carrier)
    second = receipt_of(platform, post(platform, wire))

    assert second.accepted == first.accepted and len(first.accepted) == 2
    assert second.rejected == first.rejected and [r.reason for r in first.rejected] == ["payload_invalid"]
    assert stored(platform_engine, carrier) == before  # the same rows, not even re-encrypted
    assert batches(platform_engine, carrier) == 1


def test_a_record_sent_again_in_another_batch_is_stored_once_and_one_with_other_contents_conflicts(
    platform: str, platform_engine: Engine, carrier: Carrier,
) -> None:
    kept, changed = carrier.record(PERSON), carrier.record(PERSON)
    receipt_of(platform, post(platform, carrier.batch([kept, changed])))
    before = stored(platform_engine, carrier)
    other = carrier.record(ORGANISATION)
    # the same record id with another waybill number: not what was stored, so not accepted as it
    reused = dataclasses.replace(changed, waybill_no="DE0000000000001")
    receipt = receipt_of(platform, post(platform, carrier.batch([kept, reused, other])))

    assert receipt.accepted == (kept.record_id, other.record_id)
    assert receipt.rejected == (protocol.Rejection(changed.record_id, "record_conflict"),)
    after = stored(platform_engine, carrier)
    assert {k: after[k] for k in before} == before and set(after) == set(before) | {other.record_id}
    assert after[other.record_id]["batch_id"] != after[kept.record_id]["batch_id"]


def test_the_same_batch_sent_twice_at_once_is_stored_once(
    platform: str, platform_engine: Engine, carrier: Carrier,
) -> None:
    wire = carrier.batch([carrier.record(PERSON) for _ in range(50)])
    answers: list[httpx.Response] = []
    threads = [threading.Thread(target=lambda: answers.append(post(platform, wire))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    receipts = [receipt_of(platform, answer) for answer in answers]
    assert receipts[0].accepted == receipts[1].accepted and len(receipts[0].accepted) == 50
    assert len(stored(platform_engine, carrier)) == 50 and batches(platform_engine, carrier) == 1


def test_a_full_batch_of_a_thousand_records_is_stored_in_one_request(
    platform: str, platform_engine: Engine, carrier: Carrier,
) -> None:
    agreement = f"{SEAL_CONTEXT}|{carrier.id}|agreement:{uuid.uuid4()}"
    shared = carrier.record(ORGANISATION, context=agreement)  # a contract customer's seal rides on each parcel
    records = [carrier.record(PERSON) if i % 2 else dataclasses.replace(shared, record_id=uuid.uuid4())
               for i in range(protocol.MAX_RECORDS)]
    receipt = receipt_of(platform, post(platform, carrier.batch(records)))
    assert len(receipt.accepted) == protocol.MAX_RECORDS and receipt.rejected == ()
    assert len(stored(platform_engine, carrier)) == protocol.MAX_RECORDS


# -- records rejected, the rest of the batch accepted ---------------------------------------------------

def test_a_record_sealed_for_another_carrier_is_rejected_and_the_rest_accepted(
    platform: str, platform_engine: Engine, carrier: Carrier, other_carrier: Carrier,
) -> None:
    good = carrier.record(PERSON)
    record_id = uuid.uuid4()
    # sealed properly, but bound to the other carrier: this carrier cannot pass it off as its own
    foreign = carrier.record(PERSON, record_id=record_id, context=f"{SEAL_CONTEXT}|{other_carrier.id}|{record_id}")
    not_ours = carrier.record(PERSON, context=f"someone-else/v1|{carrier.id}|{uuid.uuid4()}")
    bare = carrier.record(PERSON, context=f"{SEAL_CONTEXT}|{carrier.id}|")
    receipt = receipt_of(platform, post(platform, carrier.batch([foreign, good, not_ours, bare])))

    assert receipt.accepted == (good.record_id,)
    assert receipt.rejected == tuple(protocol.Rejection(r.record_id, "seal_context_foreign")
                                     for r in (foreign, not_ours, bare))
    assert set(stored(platform_engine, carrier)) == {good.record_id}
    assert stored(platform_engine, other_carrier) == {}


def _flip_last_byte(record: protocol.SealedRecord) -> protocol.SealedRecord:
    sealed = bytearray(record.sealed)
    sealed[-1] ^= 0x01
    return dataclasses.replace(record, sealed=bytes(sealed))


def test_a_record_that_does_not_open_is_seal_invalid_and_one_that_opens_to_nonsense_is_payload_invalid(
    platform: str, platform_engine: Engine, carrier: Carrier,
) -> None:
    from parcelguard.crypto.sealing import generate_x25519_keypair

    good = carrier.record(PERSON)
    tampered = _flip_last_byte(carrier.record(PERSON))
    record = carrier.record(PERSON)
    # the seal names the record's context, but the record claims another one of this carrier
    moved = dataclasses.replace(record, seal_context=f"{SEAL_CONTEXT}|{carrier.id}|{uuid.uuid4()}")
    to_someone_else = carrier.record(PERSON, recipient=generate_x25519_keypair()[1])
    short = dataclasses.replace(carrier.record(PERSON), sealed=b"\x01" * 20)
    nonsense = [carrier.record(b"not json"), carrier.record(b"[1, 2]"), carrier.record({"doc_type": "resident_id"}),
                carrier.record({**PERSON, "extra": "member"}), carrier.record({**PERSON, "name": ""}),
                carrier.record({**ORGANISATION, "responsible": {"doc_type": "resident_id"}}),
                carrier.record(PERSON, doc_type="foreign_passport")]  # the record's type is not the seal's
    records = [tampered, moved, to_someone_else, short, good, *nonsense]
    receipt = receipt_of(platform, post(platform, carrier.batch(records)))

    assert receipt.accepted == (good.record_id,)
    assert [(r.record_id, r.reason) for r in receipt.rejected] == (
        [(r.record_id, "seal_invalid") for r in (tampered, moved, to_someone_else, short)]
        + [(r.record_id, "payload_invalid") for r in nonsense])
    assert set(stored(platform_engine, carrier)) == {good.record_id}


# -- batches refused whole: nothing stored -------------------------------------------------------------

def test_a_forged_signature_an_unknown_key_or_carrier_and_a_revoked_key_are_refused_and_store_nothing(
    platform: str, platform_engine: Engine, carrier: Carrier, other_carrier: Carrier,
) -> None:
    forged = carrier.batch([carrier.record(PERSON)], seed=signing.generate()[0])
    assert problem(post(platform, forged), 403, "batch_signature")["errors"][0]["pointer"] == "/signature"
    altered = carrier.batch([carrier.record(PERSON)])
    altered["records"][0]["waybill_no"] = "DE0000000000001"
    problem(post(platform, altered), 403, "batch_signature")
    stranger_seed, stranger_public = signing.generate()
    unknown_key = carrier.batch([carrier.record(PERSON)], seed=stranger_seed, key_id=signing.key_id(stranger_public))
    problem(post(platform, unknown_key), 403, "carrier_key_unknown")
    # the other carrier's key, registered, in force, but not this carrier's
    problem(post(platform, carrier.batch([carrier.record(PERSON)], seed=other_carrier.seed,
                                         key_id=other_carrier.key_id)), 403, "carrier_key_unknown")
    unknown_carrier = Carrier(code=f"c-{uuid.uuid4().hex[:10]}", id=carrier.id, seed=carrier.seed,
                              key_id=carrier.key_id)
    problem(post(platform, unknown_carrier.batch([carrier.record(PERSON)])), 403, "carrier_key_unknown")

    wire = carrier.batch([carrier.record(PERSON)])
    from sqlalchemy.orm import Session

    with Session(platform_engine) as session, session.begin():
        assert service.revoke_key(db_session=session, code=carrier.code, key_id=carrier.key_id) is True
    problem(post(platform, wire), 403, "carrier_key_unknown")
    assert stored(platform_engine, carrier) == {} and batches(platform_engine, carrier) == 0


def _drop(member: str) -> Callable[[dict[str, Any]], None]:
    return lambda wire: wire["records"][0].pop(member)


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(wire: dict[str, Any]) -> None:
        target = wire
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value
    return change


MALFORMED = [
    (_set(("protocol",), "parcelguard-realname/0"), "protocol_version", "/protocol"),
    (_set(("carrier",), "Not A Code"), "carrier_format", "/carrier"),
    (_set(("key_id",), "XYZ"), "key_id_format", "/key_id"),
    (_set(("batch_id",), "not-a-uuid"), "uuid_format", "/batch_id"),
    (_set(("sent_at",), "2026-11-25 10:00:00"), "time_format", "/sent_at"),
    (_set(("records",), []), "records_count", "/records"),
    (_set(("signature",), "***"), "base64_format", "/signature"),
    (_set(("extra",), 1), "member_unknown", "/extra"),
    (_drop("sealed"), "member_missing", "/records/0/sealed"),
    (_set(("records", 0, "record_id"), 7), "uuid_format", "/records/0/record_id"),
    (_set(("records", 0, "sealed"), "not base64!"), "base64_format", "/records/0/sealed"),
    (_set(("records", 0, "region"), "1101050"), "record_format", "/records/0/region"),
    (_set(("records", 0, "taken_at"), "2026-02-30T00:00:00.000000Z"), "time_format", "/records/0/taken_at"),
    (_set(("records", 1), "a record"), "not_an_object", "/records/1"),
    (lambda wire: wire["records"].append(copy.deepcopy(wire["records"][0])), "record_duplicate", "/records"),
]


@pytest.mark.parametrize(("change", "code", "pointer"), MALFORMED, ids=[f"{c}:{p}" for _, c, p in MALFORMED])
def test_a_malformed_batch_is_422_with_the_protocols_code_and_pointer_and_stores_nothing(
    platform: str, platform_engine: Engine, carrier: Carrier, change: Callable[[dict[str, Any]], None], code: str,
    pointer: str,
) -> None:
    wire = carrier.batch([carrier.record(PERSON), carrier.record(PERSON)])
    change(wire)
    body = problem(post(platform, wire), 422, code)
    assert body["errors"] == [{"pointer": pointer, "code": code, "detail": body["detail"]}]
    assert PERSON["doc_number"] not in json.dumps(body)
    assert stored(platform_engine, carrier) == {} and batches(platform_engine, carrier) == 0


def test_a_body_that_is_no_batch_at_all_is_refused(platform: str) -> None:
    problem(post(platform, [1, 2, 3]), 422, "not_an_object")
    bad_json = httpx.post(platform + "/api/v1/batches", content=b"{not json",
                          headers={"content-type": "application/json"})
    problem(bad_json, 400, "malformed_json")
    problem(httpx.get(platform + "/api/v1/batches"), 405, "method_not_allowed")


def test_the_receipt_keys_are_public_and_name_the_signing_key(platform: str) -> None:
    published = httpx.get(platform + "/api/v1/receipt-keys").json()
    public = signing.public_of(TEST_RECEIPT_SEED)
    assert published == {"keys": {signing.key_id(public): base64.b64encode(public).decode()}}


# -- at rest ------------------------------------------------------------------------------------------

AT_REST = PlatformKeys(private_key=TEST_REGULATOR_PRIVATE, signing_key=TEST_RECEIPT_SEED,
                       root_key=TEST_PLATFORM_ROOT_KEY)


@settings(max_examples=200, deadline=None)
@given(plaintext=st.binary(max_size=2048), carrier_id=st.uuids(), record_id=st.uuids(), other=st.uuids())
def test_a_payload_encrypted_at_rest_opens_only_as_its_own_record(
    plaintext: bytes, carrier_id: uuid.UUID, record_id: uuid.UUID, other: uuid.UUID,
) -> None:
    ciphertext = AT_REST.encrypt_record(carrier_id, record_id, plaintext)
    assert AT_REST.decrypt_record(carrier_id, record_id, ciphertext) == plaintext
    assert ciphertext != AT_REST.encrypt_record(carrier_id, record_id, plaintext)  # a fresh nonce each time
    assert len(ciphertext) == 1 + 12 + len(plaintext) + 16
    if other != record_id:
        with pytest.raises(DecryptionFailed):
            AT_REST.decrypt_record(carrier_id, other, ciphertext)
    if other != carrier_id:
        with pytest.raises(DecryptionFailed):
            AT_REST.decrypt_record(other, record_id, ciphertext)
    for i in (0, 1, len(ciphertext) - 1):
        altered = bytearray(ciphertext)
        altered[i] ^= 0x80
        with pytest.raises(DecryptionFailed):
            AT_REST.decrypt_record(carrier_id, record_id, bytes(altered))
    another_root = PlatformKeys(private_key=TEST_REGULATOR_PRIVATE, signing_key=TEST_RECEIPT_SEED,
                                root_key=bytes(32))
    with pytest.raises(DecryptionFailed):
        another_root.decrypt_record(carrier_id, record_id, ciphertext)


@settings(max_examples=200, deadline=None)
@given(number=st.text(max_size=40), doc_type=st.one_of(st.none(), st.sampled_from(["resident_id", "uscc", "x"])))
def test_any_document_number_has_an_index_and_the_index_shows_nothing_of_it(number: str, doc_type: str | None) -> None:
    index = AT_REST.document_index(number, doc_type)
    assert len(index) == 17 and index == AT_REST.document_index(number, doc_type)
    assert index_form(number, doc_type)  # never empty, never an error, whatever was typed


# -- the platform's database is its own ---------------------------------------------------------------

def test_the_platform_database_holds_only_platform_tables(platform_engine: Engine) -> None:
    import parcelguard.tables  # noqa: F401  (every carrier table)
    from parcelguard.core.db import Base

    assert set(PlatformBase.metadata.tables).isdisjoint(Base.metadata.tables)
    with platform_engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            names = set(conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars())
            names = {n for n in names if not partitions.is_partition(n)}  # received_records' months (issue 17)
        else:
            names = set(conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'")).scalars())
    assert names == set(PlatformBase.metadata.tables) | {"alembic_version"}
