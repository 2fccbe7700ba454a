"""The audit log on a real database (SQLite and PostgreSQL): appends, signed heads, proofs."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select, update

from parcelguard import verify
from parcelguard.audit import log as service
from parcelguard.audit.models import AuditEntry, AuditNode, TreeHead
from parcelguard.core import db
from parcelguard.core.errors import Invalid, NotFound
from parcelguard.crypto.keyring import Keyring
from tests.tenants import Tenant, writing


def entry(n: int, actor: uuid.UUID | None = None) -> dict:
    return {"time": datetime(2026, 11, 25, 8, 0, n % 60, tzinfo=UTC).isoformat(), "actor": str(actor or uuid.uuid4()),
            "role": "courier", "subject": f"shipment:{n}", "fields": ["recipient_phone"], "purpose": "delivery",
            "case_id": None, "decision": "allow", "reason": None, "request_id": f"req-{n}"}


def _append(engine: Engine, keyring: Keyring, carrier: uuid.UUID, batch: list[dict], head_every: int = 1000):
    with writing(engine) as s:
        return service.append(db_session=s, keyring=keyring, carrier_id=carrier, entries=batch, head_every=head_every)


def _stored_entries(engine: Engine, carrier: uuid.UUID) -> list[bytes]:
    with engine.connect() as conn:
        return list(conn.execute(select(AuditEntry.entry).where(AuditEntry.carrier_id == carrier)
                                 .order_by(AuditEntry.idx)).scalars())


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.integers(1, 9), min_size=1, max_size=6), data=st.data())
def test_appends_in_any_batches_build_the_rfc_9162_tree_and_every_entry_proves(
    engine: Engine, keyring: Keyring, batches: list[int], data: st.DataObject
) -> None:
    carrier = Tenant.create(engine=engine, keyring=keyring).carrier_id
    n = 0
    for size in batches:
        _append(engine, keyring, carrier, [entry(n + i) for i in range(size)])
        n += size
    raw = _stored_entries(engine, carrier)
    assert len(raw) == n and [json.loads(r)["index"] for r in raw] == list(range(n))
    with db.make_sessionmaker(engine)() as s:
        assert service.size_of(db_session=s, carrier_id=carrier) == n
        tree_size = data.draw(st.integers(1, n))
        root = service.root(db_session=s, carrier_id=carrier, tree_size=tree_size)
        assert root == verify.merkle_root(raw[:tree_size])
        for index in range(tree_size):
            p = service.inclusion_proof(db_session=s, carrier_id=carrier, index=index, tree_size=tree_size)
            assert p.leaf_hash == verify.leaf_hash(raw[index])
            assert verify.verify_inclusion(p.leaf_hash, index, tree_size, p.proof, root)
        first = data.draw(st.integers(1, tree_size))
        c = service.consistency_proof(db_session=s, carrier_id=carrier, first=first, second=n)
        assert verify.verify_consistency(first, n, c.proof, c.first_root, c.second_root)
        assert c.first_root == verify.merkle_root(raw[:first])


def test_an_entry_is_canonical_json_with_its_index_and_carrier(engine: Engine, keyring: Keyring, tenant: Tenant) -> None:
    _append(engine, keyring, tenant.carrier_id, [entry(0), entry(1)])
    second = _stored_entries(engine, tenant.carrier_id)[1]
    body = json.loads(second)
    assert body["index"] == 1 and body["carrier"] == str(tenant.carrier_id)
    assert second == json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def test_tree_heads_are_signed_on_demand_and_every_n_entries(engine: Engine, keyring: Keyring, tenant: Tenant) -> None:
    carrier = tenant.carrier_id
    assert _append(engine, keyring, carrier, [entry(i) for i in range(3)], head_every=4).head is None
    crossed = _append(engine, keyring, carrier, [entry(i) for i in range(3)], head_every=4)
    assert crossed.head is not None and crossed.head.tree_size == 6
    with writing(engine) as s:
        head = service.tree_head_document(service.sign_tree_head(db_session=s, keyring=keyring, carrier_id=carrier))
        latest = service.tree_head_document(service.latest_tree_head(db_session=s, carrier_id=carrier))
        public = keyring.public_keys(db_session=s, carrier_id=carrier, purpose=service.LOG_KEY_PURPOSE)
    assert latest["signature"] == head["signature"]
    assert bytes.fromhex(head["root_hash"]) == verify.merkle_root(_stored_entries(engine, carrier))
    assert verify.verify_tree_head(head, public[head["key_id"]])
    assert not verify.verify_tree_head({**head, "tree_size": 5}, public[head["key_id"]])


def test_a_rolled_back_append_leaves_no_trace(engine: Engine, keyring: Keyring, tenant: Tenant) -> None:
    carrier = tenant.carrier_id
    _append(engine, keyring, carrier, [entry(0)])
    with db.make_sessionmaker(engine)() as s:
        s.begin()
        db.begin_write(s)
        service.append(db_session=s, keyring=keyring, carrier_id=carrier, entries=[entry(1), entry(2)])
        s.rollback()
    assert len(_stored_entries(engine, carrier)) == 1
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(AuditNode)
                            .where(AuditNode.carrier_id == carrier)).scalar_one() == 1
    appended = _append(engine, keyring, carrier, [entry(3)])
    assert appended.first_index == 1


def test_concurrent_appenders_of_one_carrier_get_distinct_indices(engine: Engine, keyring: Keyring,
                                                                  tenant: Tenant) -> None:
    carrier = tenant.carrier_id
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(5):
                _append(engine, keyring, carrier, [entry(worker * 100 + i)])
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    raw = _stored_entries(engine, carrier)
    assert [json.loads(r)["index"] for r in raw] == list(range(20))
    with db.make_sessionmaker(engine)() as s:
        assert service.root(db_session=s, carrier_id=carrier, tree_size=20) == verify.merkle_root(raw)


def test_proofs_outside_the_tree_are_refused_with_a_code(engine: Engine, keyring: Keyring, tenant: Tenant) -> None:
    carrier = tenant.carrier_id
    _append(engine, keyring, carrier, [entry(i) for i in range(3)])
    with db.make_sessionmaker(engine)() as s:
        with pytest.raises(Invalid) as too_big:
            service.inclusion_proof(db_session=s, carrier_id=carrier, index=0, tree_size=4)
        assert too_big.value.code == "tree_size_out_of_range"
        with pytest.raises(NotFound):
            service.inclusion_proof(db_session=s, carrier_id=carrier, index=3, tree_size=3)
        with pytest.raises(Invalid):
            service.consistency_proof(db_session=s, carrier_id=carrier, first=2, second=4)
        with pytest.raises(NotFound):
            service.latest_tree_head(db_session=s, carrier_id=Tenant.create(engine=engine, keyring=keyring).carrier_id)


def test_a_quiet_log_is_signed_by_the_periodic_signer(engine: Engine, keyring: Keyring, tenant: Tenant) -> None:
    _append(engine, keyring, tenant.carrier_id, [entry(i) for i in range(3)], head_every=1000)
    with db.make_sessionmaker(engine)() as s, pytest.raises(NotFound):
        service.latest_tree_head(db_session=s, carrier_id=tenant.carrier_id)
    with writing(engine) as s:
        signed, failed = service.sign_due_heads(db_session=s, keyring=keyring)
        assert signed >= 1 and tenant.carrier_id not in [c for c, _ in failed]
    with writing(engine) as s:
        head = service.latest_tree_head(db_session=s, carrier_id=tenant.carrier_id)
        assert head.tree_size == 3
        service.sign_due_heads(db_session=s, keyring=keyring)  # nothing new here: no second head
        assert s.scalar(select(func.count()).select_from(TreeHead)
                        .where(TreeHead.carrier_id == tenant.carrier_id)) == 1


def test_the_server_signs_heads_every_t_seconds(
    database_url: str, engine: Engine, keyring: Keyring, tenant: Tenant, tmp_path: Path
) -> None:
    from tests.conftest import TEST_ROOT_KEY
    from tests.servers import platform_process

    with platform_process(database_url=database_url, root_key=TEST_ROOT_KEY, log_path=tmp_path / "server.log",
                          PARCELGUARD_AUDIT_HEAD_SECONDS="0.2"):
        _append(engine, keyring, tenant.carrier_id, [entry(i) for i in range(5)], head_every=1000)
        deadline = time.monotonic() + 20
        head = None
        while head is None and time.monotonic() < deadline:
            with db.make_sessionmaker(engine)() as s:
                try:
                    head = service.latest_tree_head(db_session=s, carrier_id=tenant.carrier_id)
                except NotFound:
                    time.sleep(0.1)
    assert head is not None and head.tree_size == 5
    public = keyring.public_keys
    with db.make_sessionmaker(engine)() as s:
        keys = public(db_session=s, carrier_id=tenant.carrier_id, purpose=service.LOG_KEY_PURPOSE)
    assert verify.verify_tree_head(service.tree_head_document(head), keys[head.key_id])


def test_no_head_is_signed_over_a_history_that_disagrees_with_the_last_one(
    engine: Engine, keyring: Keyring, tenant: Tenant
) -> None:
    """Rewriting the stored tree does not earn a fresh signature: signing stops and HQ security is alerted."""
    from parcelguard.audit import service as gate
    from parcelguard.audit.models import Alert

    _append(engine, keyring, tenant.carrier_id, [entry(i) for i in range(8)], head_every=8)
    with engine.begin() as conn:
        conn.execute(update(AuditNode).where(AuditNode.carrier_id == tenant.carrier_id, AuditNode.level == 3,
                                             AuditNode.idx == 0).values(hash=b"\x00" * 32))
    _append(engine, keyring, tenant.carrier_id, [entry(8)], head_every=1000)
    with writing(engine) as s, pytest.raises(service.LogCorrupt, match="tree head 8"):
        service.sign_tree_head(db_session=s, keyring=keyring, carrier_id=tenant.carrier_id)
    with writing(engine) as s:
        gate.sign_due_heads(db_session=s, keyring=keyring)
    with db.make_sessionmaker(engine)() as s:
        assert service.latest_tree_head(db_session=s, carrier_id=tenant.carrier_id).tree_size == 8
        [alert] = s.scalars(select(Alert).where(Alert.carrier_id == tenant.carrier_id)).all()
        assert alert.kind == "audit_log_inconsistent" and "tree head 8" in alert.detail["reason"]
