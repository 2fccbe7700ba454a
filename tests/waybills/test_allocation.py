"""Waybill numbers drawn from the database counter: unique across processes and carriers, and valid."""

from __future__ import annotations

import threading

from sqlalchemy import Engine

from parcelguard.core import db
from parcelguard.crypto.keyring import Keyring
from parcelguard.waybills import numbers, service
from tests.tenants import Tenant, writing


def _allocate(engine: Engine, keyring: Keyring, tenant: Tenant, count: int) -> list[str]:
    with writing(engine) as s:
        return service.allocate(db_session=s, keyring=keyring, carrier_id=tenant.carrier_id, prefix="ZT",
                                count=count)


def test_numbers_are_unique_valid_and_survive_a_restart(engine: Engine, keyring: Keyring, tenant: Tenant) -> None:
    first = _allocate(engine, keyring, tenant, 150)
    service._blocks.clear()  # a restarted process starts a fresh block: what it skips is a gap, not a repeat
    service._numberers.clear()
    second = _allocate(engine, keyring, tenant, 60)
    every = first + second
    assert len(set(every)) == len(every) == 210
    assert all(numbers.check(n).ok and n.startswith("ZT") for n in every)
    # The same counter gives the same number after the restart: the key is stable.
    fresh = numbers.WaybillNumbers(keyring.stable_key(db_session=db.make_sessionmaker(engine)(),
                                                      carrier_id=tenant.carrier_id, purpose=service.KEY_PURPOSE), "ZT")
    assert fresh.format(fresh.counter_of(first[0])) == first[0]


def test_concurrent_allocations_never_repeat(engine: Engine, keyring: Keyring, tenant: Tenant) -> None:
    results: list[list[str]] = []

    def worker() -> None:
        for _ in range(5):
            service._blocks.clear()  # every call goes to the database, as separate processes would
            results.append(_allocate(engine, keyring, tenant, 30))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [n for batch in results for n in batch]
    assert len(every) == 600 and len(set(every)) == 600


def test_two_carriers_number_independently(engine: Engine, keyring: Keyring, tenant: Tenant,
                                           other_tenant: Tenant) -> None:
    ours, theirs = _allocate(engine, keyring, tenant, 20), _allocate(engine, keyring, other_tenant, 20)
    assert not {n[2:] for n in ours} & {n[2:] for n in theirs}
