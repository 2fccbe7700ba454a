"""Steps that span domains: real-name intake (validate → number → encrypt → seal → outbox) of couriers'
walk-in senders and of contract customers' parcels, and the demo shipments for `parcelguard init --demo`
(plainly fictitious people, so the tour can reveal)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from parcelguard.accounts import service as accounts
from parcelguard.audit import service as audit
from parcelguard.contracts import service as contracts
from parcelguard.contracts.models import Agreement
from parcelguard.core.auth import Actor, Role
from parcelguard.core.clock import now
from parcelguard.core.errors import DomainError, FieldError, Forbidden, Invalid
from parcelguard.crypto import sealing
from parcelguard.crypto.keyring import Keyring
from parcelguard.identity import service as identity_service
from parcelguard.identity.models import SenderRegistration
from parcelguard.privacy_numbers import service as privacy_numbers
from parcelguard.shipments import catalogue_store, intake_checks, photos, service

# The intake's types live with its checks; callers name them here, as `flows.IntakeRequest` and so on.
from parcelguard.shipments.intake_checks import (  # noqa: F401
    Checked,
    Intake,
    IntakeRequest,
    OwnDocumentRefused,
    Sender,
    SenderDocument,
)
from parcelguard.shipments.models import Shipment
from parcelguard.waybills import policy, settings_store
from parcelguard.waybills import service as waybill_service

# Names from no one's ID card; phone numbers in the 13800000xxx range the trade uses for examples. Two
# parcels from Shanghai to Beijing, one from the Beijing shop to Shanghai; addresses stored as intake
# stores them (province, city, district, detail).
_DEMO_PARTIES = (
    service.Parties("演示寄件人甲", "+8613800000001", "上海市浦东新区演示路1号", "演示收件人乙", "+8613800000002",
                    "北京市 北京市 朝阳区 示例路2号 1单元 101"),
    service.Parties("演示寄件人丙", "+8613800000003", "上海市浦东新区演示路3号", "欧阳演示", "+8613800000004",
                    "北京市 北京市 朝阳区 示例路4号 2单元 202"),
    service.Parties("演示商家", "+8613800000005", "北京市朝阳区演示路5号", "司马演示", "+8613800000006",
                    "上海市 上海市 浦东新区 示例路6号 3单元 303"),
)
_DEMO_REGIONS = (service.Region("北京市", "北京市", "朝阳区"), service.Region("北京市", "北京市", "朝阳区"),
                 service.Region("上海市", "上海市", "浦东新区"))


def seed_demo_shipments(*, db_session: Session, keyring: Keyring, carrier_id: uuid.UUID, origin: uuid.UUID,
                        destination: uuid.UUID, courier: uuid.UUID, manager: Actor, shop: uuid.UUID) -> int:
    """Three shipments: two from `origin` for the courier to deliver at `destination`, and one the demo
    shop sends from `destination` for the courier to pick up. Idempotent: a carrier that has shipments
    gets none."""
    if db_session.scalar(select(Shipment.id).where(Shipment.carrier_id == carrier_id).limit(1)) is not None:
        return 0
    assert manager.role == Role.STATION_MANAGER
    carrier = accounts.get_carrier(db_session=db_session, carrier_id=carrier_id)
    numbers = waybill_service.allocate(db_session=db_session, keyring=keyring, carrier_id=carrier_id,
                                       prefix=carrier.waybill_prefix, count=len(_DEMO_PARTIES))
    made = [
        service.create(db_session=db_session, keyring=keyring, carrier_id=carrier_id, parties=parties,
                       origin_station_id=destination if n == 2 else origin, waybill_no=number,
                       destination_station_id=origin if n == 2 else destination, customer_id=shop if n == 2 else None,
                       recipient_region=region)
        for n, (parties, region, number) in enumerate(zip(_DEMO_PARTIES, _DEMO_REGIONS, numbers, strict=True))
    ]
    for shipment, task in zip(made, (service.Task.DELIVERY, service.Task.DELIVERY, service.Task.PICKUP), strict=True):
        service.assign(db_session=db_session, actor=manager, shipment_id=shipment.id, courier_id=courier, task=task)
    privacy_numbers.bind_many(db_session=db_session, carrier_id=carrier_id, shipment_ids=[s.id for s in made])
    return len(made)


# -- intake (实名收寄) ------------------------------------------------------------------------------

def take_in(*, db_session: Session, keyring: Keyring, actor: Actor, request: IntakeRequest,
            regulator_public_key: bytes, sealer: sealing.SealingSession | None = None,
            request_id: str | None = None) -> Intake:
    """One parcel (see `take_in_batch`); raises `Invalid` with every field's problem."""
    [result] = take_in_batch(db_session=db_session, keyring=keyring, actor=actor, requests=[request],
                             regulator_public_key=regulator_public_key, sealer=sealer, request_id=request_id)
    if isinstance(result, OwnDocumentRefused):
        # Nothing of the parcel was written (it failed before numbering); what the transaction holds is the
        # alert, which must be kept although the request fails.
        db_session.commit()
    if isinstance(result, DomainError):
        raise result
    return result


def take_in_batch(*, db_session: Session, keyring: Keyring, actor: Actor, requests: Sequence[IntakeRequest],
                  regulator_public_key: bytes, sealer: sealing.SealingSession | None = None,
                  request_id: str | None = None) -> list[Intake | Invalid]:
    """Real-name intake of many parcels in the caller's transaction; one answer per request, in order:
    the `Intake`, or the `Invalid` with every problem of that parcel (a bad parcel does not sink the
    good ones). For the good ones: allocate the waybill numbers, encrypt the contact fields, seal each
    sender's document for the regulator under one sealing session, keep only masked views and blind
    indexes, and write the shipments, their real-name records and outbox rows in bulk. Any failure past
    validation raises, so the caller's rollback leaves nothing behind.

    Two callers: a courier on a registered terminal, whose senders are verified per parcel (walk-in:
    a typed document or a real-name QR), and an enterprise account under an agreement in force (a
    contract customer, 协议客户), whose parcels name the organisation verified in the agreement and of
    which a share is drawn for inspection at pickup."""
    return take_in_many(db_session=db_session, keyring=keyring, takers=[Taker(actor, request_id)] * len(requests),
                        requests=requests, regulator_public_key=regulator_public_key, sealer=sealer)


@dataclass(frozen=True)
class Taker:
    """Who takes a parcel in, and the request that asked (named in the alerts it raises)."""

    actor: Actor
    request_id: str | None = None


def take_in_many(*, db_session: Session, keyring: Keyring, takers: Sequence[Taker], requests: Sequence[IntakeRequest],
                 regulator_public_key: bytes, sealer: sealing.SealingSession | None = None) -> list[Intake | Invalid]:
    """`take_in_batch` with a taker per parcel: the single intakes of many couriers of one carrier, written in
    one transaction (`shipments.combining`). The parcels of one enterprise (an agreement) come from one taker."""
    if len(takers) != len(requests):
        raise ValueError("one taker per request")
    if not requests:
        return []
    first = takers[0].actor
    agreement = _caller_agreement(db_session, first)
    assert first.carrier_id is not None
    for taker in {t.actor for t in takers} - {first}:
        if taker.carrier_id != first.carrier_id or agreement is not None or \
                _caller_agreement(db_session, taker) is not None:
            raise ValueError("parcels of several takers are couriers' parcels of one carrier")
    carrier = accounts.get_carrier(db_session=db_session, carrier_id=first.carrier_id)
    catalogue = catalogue_store.current(db_session=db_session, carrier_id=carrier.id)
    masking = settings_store.current(db_session=db_session, carrier_id=carrier.id).masking
    results: list[Intake | Invalid | None] = [None] * len(requests)
    good: list[Checked] = []
    for i, request in enumerate(requests):
        try:
            if agreement is None:
                good.append(intake_checks.check_walk_in(db_session, keyring, carrier.id, i, request, catalogue))
            else:
                good.append(intake_checks.check_contract(agreement, i, request, catalogue))
        except Invalid as exc:
            results[i] = exc
    if agreement is None and carrier.refuse_courier_own_id:
        good = _refuse_own_documents(db_session, keyring, carrier.id, takers, good, results)
    if good:
        numbers = waybill_service.allocate(db_session=db_session, keyring=keyring, carrier_id=carrier.id,
                                           prefix=carrier.waybill_prefix, count=len(good))
        specs = [_new_shipment(takers[c.index].actor, agreement, c, number, masking)
                 for c, number in zip(good, numbers, strict=True)]
        shipment_ids = service.create_many(db_session=db_session, keyring=keyring, carrier_id=carrier.id,
                                           shipments=specs)
        by_taker: dict[uuid.UUID, list[tuple[uuid.UUID, photos.Photo]]] = {}
        for c, sid in zip(good, shipment_ids, strict=True):
            by_taker.setdefault(takers[c.index].actor.user_id, []).extend((sid, p) for p in c.request.photos)
        for taken_by, taken in by_taker.items():
            if taken:
                photos.store(db_session=db_session, keyring=keyring, carrier_id=carrier.id, taken_by=taken_by,
                             photos=taken)
        if agreement is None:  # a courier took these in: that was their pickup (what lets them print the labels)
            service.record_pickups(db_session=db_session, carrier_id=carrier.id, pickups=[
                (takers[c.index].actor.user_id, sid) for c, sid in zip(good, shipment_ids, strict=True)])
        # The virtual number and extension the label prints (none when the carrier has no pool). A full
        # pool raises, and the request's rollback takes the whole batch back.
        privacy_numbers.bind_many(db_session=db_session, carrier_id=carrier.id, shipment_ids=shipment_ids, new=True)
        records = identity_service.record_senders(
            db_session=db_session, keyring=keyring, carrier_id=carrier.id, regulator_public_key=regulator_public_key,
            sealer=sealer, senders=[(sid, c.sender) for c, sid in zip(good, shipment_ids, strict=True)],
        )
        alerts = ({r.id: [] for r in records} if agreement is not None else
                  identity_service.check_senders(
                      db_session=db_session, carrier_id=carrier.id, records=records,
                      takers=[(takers[c.index].actor, takers[c.index].request_id) for c in good]))
        for c, number, spec, record in zip(good, numbers, specs, records, strict=True):
            results[c.index] = Intake(
                shipment_id=record.shipment_id, waybill_no=number, sender_name_masked=spec.sender_name_masked
                or record.name_masked, sender_doc_type=record.doc_type, sender_doc_masked=record.doc_masked,
                recipient_name_masked=spec.recipient_name_masked or "", recipient_region=c.request.recipient_region,
                alerts=alerts[record.id], inspection_draw=c.draw)
    return [r for r in results if r is not None]


def _caller_agreement(db_session: Session, actor: Actor) -> Agreement | None:
    """None for a courier on a terminal (walk-in intake); the agreement in force for an enterprise."""
    if actor.carrier_id is None or actor.role not in (Role.COURIER, Role.ENTERPRISE):
        raise Forbidden("A courier takes parcels in; an enterprise sends them under its agreement.",
                        code="role_not_allowed")
    if actor.role == Role.ENTERPRISE:
        agreement = contracts.active_for(db_session=db_session, carrier_id=actor.carrier_id,
                                         customer_id=actor.user_id)
        if agreement is None:
            raise Forbidden("An enterprise sends parcels under an agreement in force (协议客户): ask the "
                            "carrier's station to make one.", code="agreement_required")
        return agreement
    if actor.station_id is None:
        raise Forbidden("A courier works at a station.", code="role_not_allowed")
    if actor.terminal_id is None:
        raise Forbidden("Intake runs on a registered terminal: sign in with X-Terminal-Id.",
                        code="terminal_required")
    return None


def _refuse_own_documents(db_session: Session, keyring: Keyring, carrier_id: uuid.UUID, takers: Sequence[Taker],
                          good: list[Checked], results: list[Intake | Invalid | None]) -> list[Checked]:
    """The carrier's setting: refuse a sender document that is the taking courier's own, and raise the
    alert all the same."""
    indexes = {c.index: _sender_index(db_session, keyring, carrier_id, c.sender) for c in good}
    own = identity_service.own_documents_of(db_session=db_session, carrier_id=carrier_id, pairs={
        (takers[c.index].actor.user_id, indexes[c.index]) for c in good})
    if not own:
        return good
    kept = []
    for c in good:
        taker = takers[c.index]
        if (taker.actor.user_id, indexes[c.index]) not in own:
            kept.append(c)
            continue
        audit.raise_alert(db_session=db_session, carrier_id=carrier_id, kind="courier_own_id",
                          dedupe_key=f"courier_own_id:refused:{uuid.uuid4()}", actor_id=taker.actor.user_id,
                          detail={"refused": True, "station_id": str(taker.actor.station_id),
                                  "request_id": taker.request_id})
        pointer = "/sender/document/number" if c.request.sender_document is not None else "/sender/realname_token"
        results[c.index] = OwnDocumentRefused(
            "The parcel cannot be taken in: see errors.", code="intake_invalid",
            errors=[FieldError(pointer, "courier_own_id", "This document is registered as your own: the "
                               "sender's own document is needed. The refusal is reported.")])
    return kept


def _sender_index(db_session: Session, keyring: Keyring, carrier_id: uuid.UUID, sender: Sender) -> bytes:
    if isinstance(sender, identity_service.TypedSender):
        return identity_service.blind_index(db_session=db_session, keyring=keyring, carrier_id=carrier_id,
                                            document=sender.document)
    return sender.blind_index


def _new_shipment(actor: Actor, agreement: Agreement | None, c: Checked, number: str,
                  masking: policy.MaskingPolicy) -> service.NewShipment:
    """The shipment to store; names are masked as the carrier's policy says (the label prints them so)."""
    r, sender = c.request, c.sender
    region = r.recipient_region
    recipient_address = " ".join(p for p in (region.province, region.city, region.district, r.recipient_detail.strip())
                                 if p)
    common = {"recipient_name": r.recipient_name, "recipient_phone": c.recipient_phone,
              "sender_address": r.sender_address, "recipient_address": recipient_address}
    if agreement is not None:
        assert isinstance(sender, identity_service.PresealedSender) and c.sender_phone is not None
        contact = (r.sender_name or "").strip()
        return service.NewShipment(
            parties=service.Parties(sender_name=contact or agreement.organisation_name, sender_phone=c.sender_phone,
                                    **common),
            sender_name_masked=policy.display_name(masking, contact) if contact else sender.name_masked,
            recipient_name_masked=policy.display_name(masking, r.recipient_name),
            origin_station_id=agreement.station_id, destination_station_id=r.destination_station_id,
            customer_id=agreement.customer_id, agreement_id=agreement.id, sender_kind="contract",
            waybill_no=number, recipient_region=region, items=r.items, inspection_draw=c.draw,
            customer_reference=r.reference,
        )
    registered = isinstance(sender, SenderRegistration)
    moment = now()
    return service.NewShipment(
        parties=service.Parties(
            # A registered sender's name and phone move over encrypted (below); "-" stands in for them here.
            sender_name="-" if registered else sender.name,  # type: ignore[union-attr]
            sender_phone=c.sender_phone or "-", **common,
        ),
        encrypted_fields={f"sender_{f}": identity_service.registration_field(sender, f) for f in ("name", "phone")}
        if isinstance(sender, SenderRegistration) else {},
        sender_name_masked=sender.name_masked if registered else policy.display_name(masking, sender.name),  # type: ignore[union-attr]
        recipient_name_masked=policy.display_name(masking, r.recipient_name),
        origin_station_id=actor.station_id, destination_station_id=r.destination_station_id,  # type: ignore[arg-type]
        waybill_no=number, taken_in_by=actor.user_id, recipient_region=region, items=r.items,
        inspected=r.inspected, inspected_by=actor.user_id if r.inspected else None,
        inspected_at=moment if r.inspected else None,
    )
