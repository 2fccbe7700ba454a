"""Printing labels and resolving found ones: steps that span shipments, the gate, virtual numbers and
the carrier's label settings.

A label prints the recipient's address detail, a personal field, so printing is a reveal: it passes the
gate (purpose `label_print`) and every printed label is an entry of the tamper-evident log, whoever
prints it. A station that prints labels by the hundred to harvest them meets the gate's ceilings and HQ
security's alert, like any other reveal. Names are masked at intake; phones are never read: the label
carries the virtual number and extension, and at most the last four digits kept at intake when the
carrier's policy shows them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from sqlalchemy.orm import Session

from parcelguard.accounts import service as accounts
from parcelguard.audit import service as audit
from parcelguard.core.auth import Actor, Role
from parcelguard.core.clock import now
from parcelguard.core.errors import Conflict, Forbidden, Invalid
from parcelguard.crypto.keyring import Keyring
from parcelguard.identity import regions
from parcelguard.privacy_numbers import service as numbers
from parcelguard.shipments import catalogue_store
from parcelguard.shipments import service as shipments
from parcelguard.waybills import numbers as waybill_numbers
from parcelguard.waybills import policy, printing, settings_store
from parcelguard.waybills import service as waybills
from parcelguard.waybills.labels import LabelData, Layout, render_zpl

MAX_BATCH = 500


def labels(*, db_session: Session, keyring: Keyring, actor: Actor, shipment_ids: Sequence[uuid.UUID],
           request_id: str | None = None) -> list[LabelData]:
    """What the labels of these shipments print, in order, after the gate allowed and logged every one
    of them (all or nothing: one shipment the actor may not print refuses the batch, and is logged).

    The gate decides before anything else is said of a shipment: one the actor may not print is answered
    as one that does not exist (404 `subject_unknown`), and only a shipment they may print is told to
    have no waybill number yet (409 `waybill_missing`)."""
    if not shipment_ids:
        raise Invalid("Name at least one shipment.", code="shipments_empty", field="/shipment_ids")
    if len(shipment_ids) > MAX_BATCH:
        raise Invalid(f"At most {MAX_BATCH} labels at once.", code="batch_too_large", field="/shipment_ids")
    if len(set(shipment_ids)) != len(shipment_ids):
        raise Invalid("Each shipment once per batch.", code="shipment_repeated", field="/shipment_ids")
    assert actor.carrier_id is not None
    if actor.role == Role.COURIER and actor.terminal_id is None:
        raise Forbidden("A courier prints labels on a registered terminal: sign in with X-Terminal-Id.",
                        code="terminal_required")
    carrier_id = actor.carrier_id
    revealed = audit.reveal_many(db_session, actor, [f"shipment:{sid}" for sid in shipment_ids],
                                 ["recipient_address"], "label_print", keyring=keyring, request_id=request_id)
    # Every one exists and may be printed (the gate refused otherwise). A refusal from here on rolls the
    # request back, the gate's entries with it: nothing was printed.
    rows = shipments.get_many(db_session=db_session, carrier_id=carrier_id, shipment_ids=shipment_ids)
    for i, row in enumerate(rows):
        if not row.waybill_no:
            raise Conflict("This shipment has no waybill number yet: it was not taken in.", code="waybill_missing",
                           field=f"/shipment_ids/{i}")
    carrier = accounts.get_carrier(db_session=db_session, carrier_id=carrier_id)
    settings = settings_store.current(db_session=db_session, carrier_id=carrier_id)
    bindings = numbers.bindings_for(db_session=db_session, carrier_id=carrier_id, shipment_ids=list(shipment_ids))
    items = shipments.item_summaries(db_session=db_session, shipment_ids=list(shipment_ids))
    category_names = {c.code: c.label_zh for c in
                      catalogue_store.current(db_session=db_session, carrier_id=carrier_id).categories()}
    places: dict[uuid.UUID, str] = {}
    moment = now()
    out = []
    for shipment, reveal in zip(rows, revealed, strict=True):
        if shipment.origin_station_id not in places:
            station = accounts.get_station(db_session=db_session, carrier_id=carrier_id,
                                           station_id=shipment.origin_station_id)
            places[shipment.origin_station_id] = place_name(station.region_code)
        if shipment.label_subject is None:  # made before labels had subjects and missed by the migration
            shipment.label_subject = uuid.uuid4()
            db_session.flush()
        binding = bindings.get(shipment.id)
        detail = shipments.address_detail(shipment, reveal.fields["recipient_address"])
        out.append(LabelData(
            carrier_name=carrier.name, waybill_no=shipment.waybill_no or "",
            sorting_code=policy.sorting_code(settings, shipment.recipient_province, shipment.recipient_city,
                                             shipment.recipient_district),
            sender_name=shipment.sender_name_masked, sender_place=places[shipment.origin_station_id],
            recipient_name=shipment.recipient_name_masked,
            recipient_region=" ".join(p for p in (shipment.recipient_province, shipment.recipient_city,
                                                  shipment.recipient_district) if p),
            recipient_detail=policy.mask_detail(detail, settings.masking.address_detail),
            call_number=binding.number if binding else None, call_extension=binding.extension if binding else None,
            recipient_phone_tail=policy.display_phone(settings.masking, shipment.recipient_phone_tail),
            item_summary="；".join(f"{category_names.get(category, category)} ×{quantity}"
                                  for category, quantity in items[shipment.id]),
            token=waybills.label_token(db_session=db_session, keyring=keyring, carrier_id=carrier_id,
                                       subject=shipment.label_subject),
            printed_at=moment,
        ))
    return out


@cache
def place_name(region_code: str) -> str:
    """A station's place as a label prints it: province and district (city too outside the municipalities)."""
    names = []
    for code in (region_code[:2] + "0000", region_code[:4] + "00", region_code):
        found = regions.region(code)
        if found is not None and found.name not in names and not found.name.endswith("辖区"):
            names.append(found.name)
    return " ".join(names)


# -- investigation: a found label ----------------------------------------------------------------------

@dataclass(frozen=True)
class Resolved:
    shipment: shipments.Shipment
    revealed: audit.Revealed


def resolve(*, db_session: Session, keyring: Keyring, actor: Actor, case_id: uuid.UUID | str | None,
            waybill_no: str | None = None, label_token: str | None = None, fields: Sequence[str] | None = None,
            request_id: str | None = None) -> Resolved:
    """HQ security finds the shipment of a found label, from its waybill number or the token its QR code
    holds (of any age, if the carrier signed it), and reads its fields through the gate with the purpose
    `investigation` under an open case. A reference that names no shipment goes to the gate too
    (`refuse_unknown`), so without an open case a known and an unknown label get the same refusal, and
    with one an unknown label is the gate's logged `subject_unknown`."""
    if (waybill_no is None) == (label_token is None):
        raise Invalid("Give the waybill number or the label's token, not both.", code="label_reference_required",
                      field="/waybill_no")
    assert actor.carrier_id is not None
    if waybill_no is not None:
        checked = waybill_numbers.check(waybill_no)
        if checked.waybill is None:
            raise Invalid("This is not a waybill number.", code=checked.reason or "waybill_format",
                          field="/waybill_no")
        shipment = shipments.by_waybill(db_session=db_session, carrier_id=actor.carrier_id,
                                        waybill_no=checked.waybill.value)
        # A waybill number is user information (寄递服务用户个人信息安全管理规定) and the log keeps
        # entries for good: an unmatched one is logged as such, never by its digits.
        reference = "waybill:unmatched"
    else:
        assert label_token is not None
        subject = waybills.label_subject(db_session=db_session, keyring=keyring, carrier_id=actor.carrier_id,
                                         token=label_token, any_age=True, field="/label_token")
        shipment = shipments.by_label_subject(db_session=db_session, carrier_id=actor.carrier_id, subject=subject)
        reference = f"label:{subject}"  # a random id the carrier made: nothing personal
    wanted = list(fields or audit.REVEALABLE_FIELDS)
    if shipment is None:
        audit.refuse_unknown(db_session, actor, reference, wanted, "investigation", case_id, keyring=keyring,
                             request_id=request_id)
    revealed = audit.reveal(db_session, actor, f"shipment:{shipment.id}", wanted, "investigation", case_id,
                            keyring=keyring, request_id=request_id)
    return Resolved(shipment, revealed)


@dataclass(frozen=True)
class Printed:
    printer: str
    size: int  # bytes of ZPL sent


def print_on_terminal_printer(*, db_session: Session, keyring: Keyring, actor: Actor, shipment_id: uuid.UUID,
                              layout: str = "two_part", request_id: str | None = None) -> Printed:
    """Print a shipment's label on the networked thermal printer of the terminal the actor signed in on:
    the gate decides as for any label (`labels`), the ZPL job goes over raw TCP. A terminal without a
    printer is told so before any parcel is looked up (409 `printer_not_configured`). If the printer
    cannot be reached the request fails whole, the gate's log entry with it: no label left the server."""
    printer = accounts.printer_of(db_session=db_session, actor=actor)
    if printer is None:
        raise Conflict("This terminal has no label printer: its station manager names one.",
                       code="printer_not_configured")
    found = labels(db_session=db_session, keyring=keyring, actor=actor, shipment_ids=[shipment_id],
                   request_id=request_id)
    job = render_zpl(found, Layout(layout))
    printing.send(printer, job)
    return Printed(printer=printer, size=len(job))
