"""Shipments: store one with its personal fields encrypted, assign it to couriers, and describe it to
the gate. Knows nothing of HTTP, and never decrypts: plaintext comes out only through
`audit.service.reveal`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from dataclasses import field as dataclass_field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from parcelguard.accounts import service as accounts
from parcelguard.core import db
from parcelguard.core.auth import Actor, Role
from parcelguard.core.clock import now
from parcelguard.core.errors import Conflict, Forbidden, Invalid, NotFound
from parcelguard.core.ids import uuid7
from parcelguard.crypto.keyring import Keyring
from parcelguard.crypto.types import Aad
from parcelguard.retention import classes
from parcelguard.shipments import photos as photo_store
from parcelguard.shipments.models import Assignment, Shipment, ShipmentItem
from parcelguard.waybills.masking import mask_name

MAX_FIELD_CHARS = 500


class Task(StrEnum):
    PICKUP = "pickup"
    DELIVERY = "delivery"


@dataclass(frozen=True)
class Parties:
    """The personal fields of a shipment, as plaintext, on their way in."""

    sender_name: str
    sender_phone: str
    sender_address: str
    recipient_name: str
    recipient_phone: str
    recipient_address: str


# The personal fields a shipment holds, in the order the API lists them. An ID number is not among
# them: it is sealed for the regulator at intake and never stored here in a form the carrier can read.
PERSONAL_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Parties))
# The data class each is encrypted under (retention.classes): its data keys, and so its lifetime.
FIELD_CLASSES: dict[str, str] = {
    "sender_name": classes.SENDER_CONTACT.name, "sender_address": classes.SENDER_CONTACT.name,
    "sender_phone": classes.SENDER_PHONE.name,
    "recipient_name": classes.RECIPIENT_CONTACT.name, "recipient_phone": classes.RECIPIENT_CONTACT.name,
    "recipient_address": classes.RECIPIENT_CONTACT.name,
}


def aad(shipment_id: uuid.UUID, field: str) -> Aad:
    return Aad(Shipment.__tablename__, field, shipment_id)


@dataclass(frozen=True)
class Item:
    description: str
    category: str
    quantity: int
    declared_value_cents: int = 0


@dataclass(frozen=True)
class Region:
    """Province, city and district: in clear on the shipment, since sorting needs them."""

    province: str = ""
    city: str = ""
    district: str = ""


@dataclass(frozen=True)
class NewShipment:
    parties: Parties
    origin_station_id: uuid.UUID
    destination_station_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None
    waybill_no: str | None = None
    taken_in_by: uuid.UUID | None = None
    sender_kind: str = "walk_in"
    recipient_region: Region = Region()
    items: Sequence[Item] = ()
    # Fields that arrive already encrypted elsewhere (a registered sender's name and phone), with the
    # associated data they are bound to: they move to this shipment unread (`Keyring.rebind`).
    encrypted_fields: dict[str, tuple[bytes, Aad]] = dataclass_field(default_factory=dict)
    sender_name_masked: str | None = None
    recipient_name_masked: str | None = None  # as the carrier's masking policy says; the default style if None
    inspected: bool = False
    inspected_by: uuid.UUID | None = None
    inspected_at: datetime | None = None
    inspection_draw: str | None = None  # a contract parcel drawn for inspection: random | restricted
    agreement_id: uuid.UUID | None = None
    customer_reference: str | None = None  # the enterprise's own id for the parcel: unique per customer


def create(
    *, db_session: Session, keyring: Keyring, carrier_id: uuid.UUID, origin_station_id: uuid.UUID,
    parties: Parties, destination_station_id: uuid.UUID | None = None, customer_id: uuid.UUID | None = None,
    waybill_no: str | None = None, taken_in_by: uuid.UUID | None = None, sender_kind: str = "walk_in",
    recipient_region: Region = Region(), items: Sequence[Item] = (),
) -> Shipment:
    """One shipment (see `create_many`)."""
    [shipment_id] = create_many(db_session=db_session, keyring=keyring, carrier_id=carrier_id, shipments=[NewShipment(
        parties=parties, origin_station_id=origin_station_id, destination_station_id=destination_station_id,
        customer_id=customer_id, waybill_no=waybill_no, taken_in_by=taken_in_by, sender_kind=sender_kind,
        recipient_region=recipient_region, items=items)])
    shipment = db_session.get(Shipment, shipment_id)
    assert shipment is not None
    return shipment


def create_many(*, db_session: Session, keyring: Keyring, carrier_id: uuid.UUID,
                shipments: Sequence[NewShipment]) -> list[uuid.UUID]:
    """Store shipments with their personal fields and item descriptions encrypted (each bound to its row
    and column) and their names masked, by bulk insert in the caller's transaction."""
    stations = {s.origin_station_id for s in shipments} | {s.destination_station_id for s in shipments
                                                           if s.destination_station_id is not None}
    for station_id in stations:
        accounts.get_station(db_session=db_session, carrier_id=carrier_id, station_id=station_id)
    for customer_id in {s.customer_id for s in shipments if s.customer_id is not None}:
        customer = accounts.get_user(db_session=db_session, carrier_id=carrier_id, user_id=customer_id)
        if customer.role != Role.ENTERPRISE:
            raise Invalid("A shipment's customer is an enterprise account.", code="customer_not_enterprise",
                          field="/customer_id")
    moment = now()
    rows, item_rows, ids = [], [], []
    for spec in shipments:
        for name in PERSONAL_FIELDS:
            value = getattr(spec.parties, name)
            if not value.strip() or len(value) > MAX_FIELD_CHARS:
                raise Invalid(f"{name} must hold 1 to {MAX_FIELD_CHARS} characters.", code="field_length",
                              field=f"/{name}")
        shipment_id = uuid7(moment)  # the id's month is created_at's: the parcel's partition (issue 17)
        ids.append(shipment_id)
        row = {
            "id": shipment_id, "carrier_id": carrier_id, "waybill_no": spec.waybill_no, "status": "accepted",
            "sender_kind": spec.sender_kind, "taken_in_by": spec.taken_in_by,
            "origin_station_id": spec.origin_station_id, "destination_station_id": spec.destination_station_id,
            "customer_id": spec.customer_id, "created_at": moment, "inspected": spec.inspected,
            "inspected_by": spec.inspected_by, "inspected_at": spec.inspected_at,
            "inspection_draw": spec.inspection_draw, "agreement_id": spec.agreement_id,
            "customer_reference": spec.customer_reference,
            "sender_name_masked": spec.sender_name_masked or mask_name(spec.parties.sender_name),
            "recipient_name_masked": spec.recipient_name_masked or mask_name(spec.parties.recipient_name),
            "recipient_phone_tail": "".join(c for c in spec.parties.recipient_phone if c.isdigit())[-4:],
            "recipient_province": spec.recipient_region.province, "recipient_city": spec.recipient_region.city,
            "recipient_district": spec.recipient_region.district, "label_subject": uuid.uuid4(),
        }
        for name in PERSONAL_FIELDS:
            if name in spec.encrypted_fields:
                ciphertext, bound = spec.encrypted_fields[name]
                row[name] = keyring.rebind(db_session=db_session, carrier_id=carrier_id, ciphertext=ciphertext,
                                           aad=bound, to=aad(shipment_id, name), data_class=FIELD_CLASSES[name])
            else:
                row[name] = keyring.encrypt(db_session=db_session, carrier_id=carrier_id,
                                            plaintext=getattr(spec.parties, name).strip(),
                                            aad=aad(shipment_id, name), data_class=FIELD_CLASSES[name])
        rows.append(row)
        for item in spec.items:
            item_id = uuid.uuid4()
            item_rows.append({
                "id": item_id, "shipment_id": shipment_id, "category": item.category, "quantity": item.quantity,
                "declared_value_cents": item.declared_value_cents,
                "description": keyring.encrypt(db_session=db_session, carrier_id=carrier_id,
                                               plaintext=item.description,
                                               aad=Aad(ShipmentItem.__tablename__, "description", item_id),
                                               data_class=classes.ITEM_DESCRIPTION.name),
            })
    db_session.flush()  # keys the keyring made for this transaction go first
    db.bulk_insert(db_session, Shipment, rows)
    db.bulk_insert(db_session, ShipmentItem, item_rows)
    return ids


def unknown_shipment() -> NotFound:
    """The answer for a shipment that does not exist, and for one the caller may not see: the two must
    not be told apart (docs/security.md, "Unknown and out of reach")."""
    return NotFound("No such shipment.", code="shipment_unknown")


def get(*, db_session: Session, carrier_id: uuid.UUID, shipment_id: uuid.UUID) -> Shipment:
    """A shipment of this carrier; another carrier's is as unknown as a missing one (404, never 403)."""
    shipment = _one(db_session, carrier_id, Shipment.id == shipment_id)
    if shipment is None:
        raise unknown_shipment()
    return shipment


def _one(db_session: Session, carrier_id: uuid.UUID, where: Any) -> Shipment | None:
    return db_session.scalar(select(Shipment).where(where, Shipment.carrier_id == carrier_id))


def address_detail(shipment: Shipment, full_address: str) -> str:
    """The detail line of a stored recipient address: intake stores province, city, district and detail
    joined by spaces, and the first three are in clear on the shipment."""
    text = full_address
    for part in (shipment.recipient_province, shipment.recipient_city, shipment.recipient_district):
        if part and text.startswith(part):
            text = text[len(part):].lstrip()
    return text


def by_label_subject(*, db_session: Session, carrier_id: uuid.UUID, subject: uuid.UUID) -> Shipment | None:
    """The carrier's shipment whose label token names `subject`, if any. The caller answers a miss as it
    answers a shipment the actor may not see (through the gate: `audit.service.refuse_unknown`)."""
    return _one(db_session, carrier_id, Shipment.label_subject == subject)


def by_waybill(*, db_session: Session, carrier_id: uuid.UUID, waybill_no: str) -> Shipment | None:
    """The carrier's shipment with this (already checked) waybill number, if any (see `by_label_subject`)."""
    return _one(db_session, carrier_id, Shipment.waybill_no == waybill_no)


def get_many(*, db_session: Session, carrier_id: uuid.UUID, shipment_ids: Sequence[uuid.UUID]) -> list[Shipment]:
    """The carrier's shipments in the order asked; 404 naming the first index that is not one of them."""
    found: dict[uuid.UUID, Shipment] = {}
    for start in range(0, len(shipment_ids), 500):
        found.update((s.id, s) for s in db_session.scalars(select(Shipment).where(
            Shipment.id.in_(shipment_ids[start:start + 500]), Shipment.carrier_id == carrier_id)))
    for i, shipment_id in enumerate(shipment_ids):
        if shipment_id not in found:
            raise NotFound("No such shipment.", code="shipment_unknown", field=f"/shipment_ids/{i}")
    return [found[shipment_id] for shipment_id in shipment_ids]


def item_summaries(*, db_session: Session, shipment_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[tuple[str, int]]]:
    """Each shipment's items as (category, quantity): what a label may say of the contents (the
    descriptions are user information and stay encrypted)."""
    out: dict[uuid.UUID, list[tuple[str, int]]] = {sid: [] for sid in shipment_ids}
    for start in range(0, len(shipment_ids), 500):
        rows = db_session.execute(select(ShipmentItem.shipment_id, ShipmentItem.category, ShipmentItem.quantity)
                                  .where(ShipmentItem.shipment_id.in_(shipment_ids[start:start + 500]))
                                  .order_by(ShipmentItem.shipment_id, ShipmentItem.id))
        for shipment_id, category, quantity in rows:
            out[shipment_id].append((category, quantity))
    return out


def record_pickups(*, db_session: Session, carrier_id: uuid.UUID,
                   pickups: Sequence[tuple[uuid.UUID, uuid.UUID]]) -> None:
    """Couriers took these parcels in over the counter or at the door, (courier, shipment) each: that was their
    pickup. The task is recorded done at once (opened and closed now), so the gate's grace period lets the
    courier print the labels (purpose label_print) for a while, and no longer."""
    moment = now()
    db.bulk_insert(db_session, Assignment, [
        {"id": uuid.uuid4(), "carrier_id": carrier_id, "shipment_id": shipment_id, "courier_id": courier_id,
         "task": Task.PICKUP.value, "opened_at": moment, "closed_at": moment} for courier_id, shipment_id in pickups])


def mark_delivered(*, db_session: Session, actor: Actor, shipment_id: uuid.UUID) -> Shipment:
    """The courier handed the parcel over: status `delivered`, and their open delivery task closes (the
    gate's grace period for it starts now). Only the courier who holds that task may. A courier who was
    never given the parcel's delivery cannot tell it from a parcel that does not exist (404
    `shipment_unknown`, whatever its status); one who was (the task closed or went to a colleague) is told
    why: 409 `already_delivered`, or 403 `not_assigned`."""
    carrier_id = _carrier_of(actor)
    shipment = get(db_session=db_session, carrier_id=carrier_id, shipment_id=shipment_id)
    tasks = list(db_session.scalars(select(Assignment).where(
        Assignment.carrier_id == carrier_id, Assignment.shipment_id == shipment.id,
        Assignment.courier_id == actor.user_id, Assignment.task == Task.DELIVERY.value)))
    if not tasks:
        raise unknown_shipment()
    if shipment.status == "delivered":
        raise Conflict("This parcel is delivered already.", code="already_delivered")
    task = next((t for t in tasks if t.closed_at is None), None)
    if task is None:
        raise Forbidden("This parcel's delivery is not assigned to you.", code="not_assigned")
    moment = now()
    shipment.status, shipment.delivered_at = "delivered", moment
    task.closed_at = moment
    db_session.flush()
    return shipment


@dataclass(frozen=True)
class GuardedShipment:
    """What the gate needs to decide about a shipment, and its ciphertexts to open if it allows."""

    id: uuid.UUID
    carrier_id: uuid.UUID
    stations: frozenset[uuid.UUID]
    customer_id: uuid.UUID | None
    ciphertexts: dict[str, tuple[bytes, Aad]]


def guarded(*, db_session: Session, carrier_id: uuid.UUID, shipment_id: uuid.UUID) -> GuardedShipment | None:
    return guarded_many(db_session=db_session, carrier_id=carrier_id, shipment_ids=[shipment_id]).get(shipment_id)


def guarded_many(*, db_session: Session, carrier_id: uuid.UUID,
                 shipment_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, GuardedShipment]:
    """The carrier's shipments among `shipment_ids`, described for the gate (one query)."""
    found: dict[uuid.UUID, GuardedShipment] = {}
    for start in range(0, len(shipment_ids), 500):
        rows = db_session.scalars(select(Shipment).where(Shipment.id.in_(shipment_ids[start:start + 500]),
                                                         Shipment.carrier_id == carrier_id))
        for shipment in rows:
            stations = {shipment.origin_station_id}
            if shipment.destination_station_id is not None:
                stations.add(shipment.destination_station_id)
            found[shipment.id] = GuardedShipment(
                id=shipment.id, carrier_id=shipment.carrier_id, stations=frozenset(stations),
                customer_id=shipment.customer_id,
                ciphertexts={name: (getattr(shipment, name), aad(shipment.id, name)) for name in PERSONAL_FIELDS},
            )
    return found


def upload_facts(*, db_session: Session, carrier_id: uuid.UUID,
                 shipment_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, tuple[str | None, uuid.UUID]]:
    """What the regulator's platform learns of each shipment beside its sealed record: the waybill
    number and the origin station (one query)."""
    rows = db_session.execute(select(Shipment.id, Shipment.waybill_no, Shipment.origin_station_id).where(
        Shipment.carrier_id == carrier_id, Shipment.id.in_(shipment_ids)))
    return {sid: (number, station) for sid, number, station in rows}


# -- inspection at pickup -------------------------------------------------------------------------

def record_inspection(*, db_session: Session, keyring: Keyring, actor: Actor, shipment_id: uuid.UUID,
                      passed: bool, photos: Sequence[photo_store.Photo] = ()) -> Shipment:
    """A courier of the shipment's origin station, on a registered terminal, opened and checked a parcel
    after intake (开箱验视): a contract customer's parcel drawn for inspection. A parcel that fails is
    refused (status `refused`) and not carried. Once per shipment."""
    if actor.role != Role.COURIER or actor.carrier_id is None:
        raise Forbidden("A courier records an inspection.", code="role_not_allowed")
    if actor.terminal_id is None:
        raise Forbidden("An inspection is recorded on a registered terminal: sign in with X-Terminal-Id.",
                        code="terminal_required")
    shipment = db_session.scalar(select(Shipment).where(Shipment.id == shipment_id,
                                                        Shipment.carrier_id == actor.carrier_id)
                                 .with_for_update())
    if shipment is None or shipment.origin_station_id != actor.station_id:
        raise unknown_shipment()  # another station's parcel is as unknown as a missing one
    if shipment.inspected:
        raise Conflict("This parcel's inspection is recorded already.", code="already_inspected")
    errors = photo_store.check(photos)
    if errors:
        raise Invalid("The inspection cannot be recorded: see errors.", code="inspection_invalid", errors=errors)
    shipment.inspected, shipment.inspected_by, shipment.inspected_at = True, actor.user_id, now()
    if not passed:
        shipment.status = "refused"
    db_session.flush()
    photo_store.store(db_session=db_session, keyring=keyring, carrier_id=actor.carrier_id, taken_by=actor.user_id,
                      photos=[(shipment.id, p) for p in photos])
    return shipment


# -- assignments ----------------------------------------------------------------------------------

def assign(*, db_session: Session, actor: Actor, shipment_id: uuid.UUID, courier_id: uuid.UUID,
           task: Task) -> Assignment:
    """Give a courier a task on a shipment. A station manager assigns only at their own station's
    shipments (another station's is answered as an unknown one, before anything is said of the courier)
    and only their own couriers; an open assignment of the same task to someone else closes."""
    carrier_id = _carrier_of(actor)
    shipment = get(db_session=db_session, carrier_id=carrier_id, shipment_id=shipment_id)
    if actor.role == Role.STATION_MANAGER and actor.station_id not in (shipment.origin_station_id,
                                                                       shipment.destination_station_id):
        raise unknown_shipment()
    courier = accounts.get_user(db_session=db_session, carrier_id=carrier_id, user_id=courier_id)
    if courier.role != Role.COURIER or not courier.active:
        raise Invalid("Only an active courier takes an assignment.", code="not_a_courier", field="/courier_id")
    if actor.role == Role.STATION_MANAGER and courier.station_id != actor.station_id:
        raise Invalid("A station manager assigns the couriers of their own station.",
                      code="courier_of_other_station", field="/courier_id")
    moment = now()
    open_rows = db_session.scalars(select(Assignment).where(
        Assignment.shipment_id == shipment.id, Assignment.task == task.value, Assignment.closed_at.is_(None)))
    for row in open_rows:
        if row.courier_id == courier.id:
            raise Conflict("This courier already holds this task.", code="already_assigned", field="/courier_id")
        row.closed_at = moment
    assignment = Assignment(carrier_id=carrier_id, shipment_id=shipment.id, courier_id=courier.id, task=task.value,
                            opened_at=moment)
    db_session.add(assignment)
    db_session.flush()
    return assignment


def close_assignment(*, db_session: Session, actor: Actor, assignment_id: uuid.UUID) -> Assignment:
    """Close a task (the parcel was picked up or delivered). The courier who holds it or a manager may."""
    carrier_id = _carrier_of(actor)
    assignment = db_session.scalar(select(Assignment).where(Assignment.id == assignment_id,
                                                            Assignment.carrier_id == carrier_id))
    if assignment is None or (actor.role == Role.COURIER and assignment.courier_id != actor.user_id):
        raise NotFound("No such assignment.", code="assignment_unknown")
    if actor.role == Role.STATION_MANAGER:
        shipment = get(db_session=db_session, carrier_id=carrier_id, shipment_id=assignment.shipment_id)
        if actor.station_id not in (shipment.origin_station_id, shipment.destination_station_id):
            raise NotFound("No such assignment.", code="assignment_unknown")
    if assignment.closed_at is None:
        assignment.closed_at = now()
        db_session.flush()
    return assignment


def list_assignments(*, db_session: Session, actor: Actor, open_only: bool = True, limit: int = 200) -> list[Assignment]:
    """A courier's own tasks; a station manager's: the tasks on their station's shipments."""
    carrier_id = _carrier_of(actor)
    query = select(Assignment).where(Assignment.carrier_id == carrier_id)
    if actor.role == Role.COURIER:
        query = query.where(Assignment.courier_id == actor.user_id)
    elif actor.role == Role.STATION_MANAGER:
        query = query.join(Shipment, Shipment.id == Assignment.shipment_id).where(
            or_(Shipment.origin_station_id == actor.station_id, Shipment.destination_station_id == actor.station_id))
    if open_only:
        query = query.where(Assignment.closed_at.is_(None))
    return list(db_session.scalars(query.order_by(Assignment.opened_at.desc()).limit(limit)))


def assignment_windows(*, db_session: Session, carrier_id: uuid.UUID, shipment_id: uuid.UUID,
                       courier_id: uuid.UUID, task: str) -> list[tuple[datetime, datetime | None]]:
    """When this courier held this task on this shipment: (opened, closed or None while open)."""
    rows = db_session.execute(select(Assignment.opened_at, Assignment.closed_at).where(
        Assignment.carrier_id == carrier_id, Assignment.shipment_id == shipment_id,
        Assignment.courier_id == courier_id, Assignment.task == task))
    return [(opened, closed) for opened, closed in rows]


def assigned_count(*, db_session: Session, carrier_id: uuid.UUID, courier_id: uuid.UUID, since: datetime) -> int:
    """The courier's tasks that were open at some moment since `since`: what a rate ceiling scales with."""
    return int(db_session.scalar(select(func.count()).select_from(Assignment).where(
        Assignment.carrier_id == carrier_id, Assignment.courier_id == courier_id,
        or_(Assignment.closed_at.is_(None), Assignment.closed_at >= since))) or 0)


def _carrier_of(actor: Actor) -> uuid.UUID:
    if actor.carrier_id is None:
        raise unknown_shipment()
    return actor.carrier_id
