"""Single intakes that arrive together are written in one transaction (`shipments.combining`, issue 17), and
each is answered as it would have been alone: its own parcel, its own courier, its own refusal."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import pytest
from sqlalchemy import Engine, select, update

from parcelguard.accounts.models import Carrier
from parcelguard.audit.models import Alert
from parcelguard.core import db
from parcelguard.core.auth import Actor, Role
from parcelguard.core.errors import DomainError, Forbidden, Invalid
from parcelguard.identity import service as identity
from parcelguard.shipments import combining, flows
from parcelguard.shipments.models import Assignment, Shipment
from tests.servers import TEST_REGULATOR_PUBLIC
from tests.shipments.test_intake import ID_NUMBER, counts, courier_on_terminal, request
from tests.tenants import Tenant, writing

OTHER_ID = "110105194912310038"


def couriers(tenant: Tenant, n: int) -> list[Actor]:
    return [dataclasses.replace(tenant.actor(Role.COURIER, n=i), terminal_id=uuid.uuid4()) for i in range(n)]


def all_at_once(combiner: combining.Combiner, asks: list[tuple[Actor, flows.IntakeRequest]]
                ) -> list[flows.Intake | BaseException]:
    """Every request sent before the first is written: they queue while the writer has not started."""
    async def send() -> list[flows.Intake | BaseException]:
        return await asyncio.gather(*(
            combiner.take_in(actor=actor, request=ask, regulator_public_key=TEST_REGULATOR_PUBLIC,
                             request_id=f"req-{i}") for i, (actor, ask) in enumerate(asks)), return_exceptions=True)
    return asyncio.run(send())


def test_intakes_that_arrive_together_are_one_transaction_and_each_is_answered_on_its_own(
    engine: Engine, keyring, tenant: Tenant  # type: ignore[no-untyped-def]
) -> None:
    combiner = combining.Combiner(db.make_sessionmaker(engine), keyring)
    takers = couriers(tenant, 4)
    bad = {3, 11}  # a recipient without a name: refused with its field, the others go through
    asks = [(takers[i % 4], request(recipient_name="") if i in bad else request()) for i in range(16)]
    answers = all_at_once(combiner, asks)
    assert combiner.batches == 1
    for i, answer in enumerate(answers):
        if i in bad:
            assert isinstance(answer, Invalid) and [e.pointer for e in answer.errors] == ["/recipient/name"]
        else:
            assert isinstance(answer, flows.Intake), answer
    assert counts(engine, tenant.carrier_id) == (14, 14, 14)
    taken = {a.shipment_id: asks[i][0].user_id for i, a in enumerate(answers) if isinstance(a, flows.Intake)}
    assert len({a.waybill_no for a in answers if isinstance(a, flows.Intake)}) == 14
    with engine.connect() as conn:
        shipments = dict(conn.execute(select(Shipment.id, Shipment.taken_in_by)
                                      .where(Shipment.carrier_id == tenant.carrier_id)).all())
        pickups = dict(conn.execute(select(Assignment.shipment_id, Assignment.courier_id)
                                    .where(Assignment.carrier_id == tenant.carrier_id)).all())
    assert shipments == taken and pickups == taken  # each parcel is its own courier's, and so is its pickup


def test_a_failure_of_the_whole_batch_is_answered_request_by_request(
    engine: Engine, keyring, tenant: Tenant  # type: ignore[no-untyped-def]
) -> None:
    combiner = combining.Combiner(db.make_sessionmaker(engine), keyring)
    good = couriers(tenant, 3)
    signed_out = tenant.actor(Role.COURIER, n=3)  # no terminal: the batch it joined fails as a whole
    asks = [(good[0], request()), (signed_out, request()), (good[1], request()), (good[2], request())]
    answers = all_at_once(combiner, asks)
    assert isinstance(answers[1], Forbidden) and answers[1].code == "terminal_required"
    assert all(isinstance(answers[i], flows.Intake) for i in (0, 2, 3))
    assert combiner.batches == 3  # the failed batch left nothing; the three good parcels went one by one
    assert counts(engine, tenant.carrier_id) == (3, 3, 3)
    with engine.connect() as conn:
        assert signed_out.user_id not in set(conn.scalars(select(Shipment.taken_in_by)))


@pytest.mark.parametrize("refuse", [False, True])
def test_a_couriers_own_document_is_told_apart_from_a_colleagues_in_one_batch(
    engine: Engine, keyring, tenant: Tenant, refuse: bool  # type: ignore[no-untyped-def]
) -> None:
    me, colleague = couriers(tenant, 2)
    manager = tenant.actor(Role.STATION_MANAGER)
    with writing(engine) as s:
        identity.register_staff_document(db_session=s, keyring=keyring, actor=manager,
                                         user_id=me.user_id, doc_type="resident_id", number=ID_NUMBER)
        s.execute(update(Carrier).where(Carrier.id == tenant.carrier_id).values(refuse_courier_own_id=refuse))
    combiner = combining.Combiner(db.make_sessionmaker(engine), keyring)
    other = request(sender_document=flows.SenderDocument("resident_id", OTHER_ID, "上官寄件人"))
    answers = all_at_once(combiner, [(me, request()), (colleague, request()), (me, other)])
    assert combiner.batches == 1
    if refuse:
        assert isinstance(answers[0], DomainError) and [e.code for e in answers[0].errors] == ["courier_own_id"]
        assert ID_NUMBER not in str(answers[0])
    else:
        assert isinstance(answers[0], flows.Intake) and answers[0].alerts == ["courier_own_id"]
    assert isinstance(answers[1], flows.Intake) and answers[1].alerts == []  # the colleague is not that cheat
    assert isinstance(answers[2], flows.Intake) and answers[2].alerts == []
    assert counts(engine, tenant.carrier_id) == ((2, 2, 2) if refuse else (3, 3, 3))
    with engine.connect() as conn:
        alerts = conn.execute(select(Alert.actor_id, Alert.detail).where(Alert.carrier_id == tenant.carrier_id)).all()
    # One alert, naming the courier and the request that entered their own document; the refusal's outlives it.
    assert [(a.actor_id, a.detail["request_id"], bool(a.detail.get("refused"))) for a in alerts] == [
        (me.user_id, "req-0", refuse)]


def test_a_lone_intake_is_written_at_once(engine: Engine, keyring, tenant: Tenant) -> None:  # type: ignore[no-untyped-def]
    combiner = combining.Combiner(db.make_sessionmaker(engine), keyring)
    courier = courier_on_terminal(tenant)
    for n in range(3):
        [answer] = all_at_once(combiner, [(courier, request())])
        assert isinstance(answer, flows.Intake) and combiner.batches == n + 1
