"""Binding shipments to (number, extension) pairs on both engines: a live pair is never shared, a full
pool says so (and alerts HQ once an hour), a pair past its grace period is reused, and allocators
racing on PostgreSQL over a few free pairs still hand each pair to one shipment."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import Engine, event, func, select, update

from parcelguard.audit.models import Alert
from parcelguard.core import db
from parcelguard.core.clock import now
from parcelguard.crypto.keyring import Keyring
from parcelguard.privacy_numbers import service
from parcelguard.privacy_numbers.models import NumberBinding
from tests.privacy_numbers.pool import add_pool, bind, live_pairs, make_shipments
from tests.tenants import Tenant, writing


def test_a_carrier_without_a_pool_binds_nothing(engine: Engine, keyring: Keyring, tenant: Tenant) -> None:
    [shipment] = make_shipments(engine, keyring, tenant, 1)
    assert bind(engine, tenant, [shipment]) == {}
    with db.make_sessionmaker(engine)() as s:
        assert service.binding_for(db_session=s, carrier_id=tenant.carrier_id, shipment_id=shipment) is None


def test_each_shipment_gets_a_pair_of_its_own_carriers_pool_and_keeps_it(
    engine: Engine, keyring: Keyring, tenant: Tenant, other_tenant: Tenant
) -> None:
    numbers = add_pool(engine, tenant, 2)
    others = add_pool(engine, other_tenant, 1)
    ids = make_shipments(engine, keyring, tenant, 50)
    bound = bind(engine, tenant, ids)
    assert set(bound) == set(ids)
    assert {b.number for b in bound.values()} <= set(numbers)
    assert len({(b.number, b.extension) for b in bound.values()}) == 50
    first = bound[ids[0]]
    assert first.dial == f"{first.number},,{first.extension}" and len(first.extension) == 4
    assert first.extension.isdigit() and first.expires_at is None
    # Binding again changes nothing; the labels' lookup finds the same pairs.
    assert bind(engine, tenant, ids[:10]) == {sid: bound[sid] for sid in ids[:10]}
    with db.make_sessionmaker(engine)() as s:
        assert service.bindings_for(db_session=s, carrier_id=tenant.carrier_id, shipment_ids=ids) == bound
        # Another carrier sees none of them.
        assert service.bindings_for(db_session=s, carrier_id=other_tenant.carrier_id, shipment_ids=ids) == {}
    assert live_pairs(engine, others) == []


def test_a_batch_of_a_thousand_costs_a_handful_of_statements(
    engine: Engine, keyring: Keyring, tenant: Tenant
) -> None:
    add_pool(engine, tenant, 3)
    ids = make_shipments(engine, keyring, tenant, 1000)
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        bound = bind(engine, tenant, ids)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(bound) == 1000
    inserts = [st for st in statements if st.lstrip().upper().startswith("INSERT")]
    # numbers, release, existing, insert (+ a savepoint on PostgreSQL), and a second round at most.
    assert len(inserts) <= 2 and len(statements) <= 12, statements


def test_a_full_number_binds_all_ten_thousand_extensions_once_then_is_exhausted_until_a_grace_period_ends(
    engine: Engine, keyring: Keyring, tenant: Tenant
) -> None:
    [number] = add_pool(engine, tenant, 1)
    ids = make_shipments(engine, keyring, tenant, service.EXTENSIONS + 2)
    full, extra = ids[:service.EXTENSIONS], ids[service.EXTENSIONS:]
    for start in range(0, len(full), 1000):
        assert len(bind(engine, tenant, full[start:start + 1000])) == 1000
    pairs = live_pairs(engine, [number])
    assert len(pairs) == service.EXTENSIONS
    assert Counter(sid for sid, _, _ in pairs).most_common(1)[0][1] == 1  # each shipment once
    assert {ext for _, _, ext in pairs} == {f"{e:04d}" for e in range(service.EXTENSIONS)}  # each pair once

    for _ in range(2):  # twice within the hour: one alert
        with pytest.raises(service.NumberPoolExhausted) as caught:
            bind(engine, tenant, extra[:1])
        assert (caught.value.status, caught.value.code) == (503, "number_pool_exhausted")
    with engine.connect() as conn:
        alerts = conn.scalar(select(func.count()).select_from(Alert).where(
            Alert.carrier_id == tenant.carrier_id, Alert.kind == "number_pool_exhausted"))
        assert alerts == 1
        assert conn.scalar(select(func.count()).select_from(NumberBinding).where(
            NumberBinding.shipment_id.in_(extra))) == 0

    # Delivered, but the grace period runs: the pair still routes, and the pool stays full.
    delivered = full[1234]
    held = next((n, e) for sid, n, e in pairs if sid == delivered)
    with writing(engine) as s:
        service.start_grace(db_session=s, carrier_id=tenant.carrier_id, shipment_id=delivered, delivered_at=now(),
                            grace=timedelta(hours=48))
    with pytest.raises(service.NumberPoolExhausted):
        bind(engine, tenant, extra[:1])
    # The grace period ends: the next allocation releases the pair and hands it on.
    with engine.begin() as conn:
        conn.execute(update(NumberBinding).where(NumberBinding.shipment_id == delivered)
                     .values(expires_at=now() - timedelta(seconds=1)))
    with db.make_sessionmaker(engine)() as s:
        assert service.binding_for(db_session=s, carrier_id=tenant.carrier_id, shipment_id=delivered) is None
    got = bind(engine, tenant, extra[:1])[extra[0]]
    assert (got.number, got.extension) == held
    with engine.connect() as conn:
        old = conn.execute(select(NumberBinding.released_at).where(NumberBinding.shipment_id == delivered)).one()
        assert old.released_at is not None
    with pytest.raises(service.NumberPoolExhausted):
        bind(engine, tenant, extra[1:])


def test_allocators_racing_over_a_few_free_pairs_never_share_one(
    engine: Engine, keyring: Keyring, tenant: Tenant
) -> None:
    """PostgreSQL: ten transactions at once, each on its own connection, want the last 40 free pairs.
    SQLite takes one writer at a time (each transaction begins with the write lock), so the same
    race runs serialised there."""
    [number] = add_pool(engine, tenant, 1)
    free = 40
    threads, per_thread = 10, 4
    ids = make_shipments(engine, keyring, tenant, service.EXTENSIONS - free + threads * per_thread + 1)
    fillers, racers, last = ids[:service.EXTENSIONS - free], ids[service.EXTENSIONS - free:-1], ids[-1]
    # Fill the number but for 40 scattered extensions, by bulk insert.
    free_extensions = {f"{e:04d}" for e in range(7, service.EXTENSIONS, service.EXTENSIONS // free)}
    assert len(free_extensions) == free
    taken = [f"{e:04d}" for e in range(service.EXTENSIONS) if f"{e:04d}" not in free_extensions]
    at = now()
    with writing(engine) as s:
        db.bulk_insert(s, NumberBinding, [
            {"id": uuid.uuid4(), "carrier_id": tenant.carrier_id, "shipment_id": sid, "number": number,
             "extension": ext, "bound_at": at} for sid, ext in zip(fillers, taken, strict=True)])

    barrier = threading.Barrier(threads)
    results: dict[int, dict[uuid.UUID, service.Binding]] = {}
    failures: list[BaseException] = []

    def allocate(n: int) -> None:
        mine = racers[n * per_thread:(n + 1) * per_thread]
        try:
            barrier.wait(timeout=30)
            with writing(engine) as s:
                results[n] = service.bind_many(db_session=s, carrier_id=tenant.carrier_id, shipment_ids=mine)
        except BaseException as exc:  # noqa: BLE001  (reported below)
            failures.append(exc)

    workers = [threading.Thread(target=allocate, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert not failures, failures
    assert sorted(results) == list(range(threads))
    won = {sid: (b.number, b.extension) for r in results.values() for sid, b in r.items()}
    assert set(won) == set(racers)
    assert {ext for _, ext in won.values()} == free_extensions
    pairs = live_pairs(engine, [number])
    assert len(pairs) == service.EXTENSIONS
    assert len({(n, e) for _, n, e in pairs}) == service.EXTENSIONS  # no live pair twice
    assert len({sid for sid, _, _ in pairs}) == service.EXTENSIONS  # no shipment twice
    with pytest.raises(service.NumberPoolExhausted):
        bind(engine, tenant, [last])
